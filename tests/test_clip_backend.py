"""The preferred room backend (open_clip) from a local checkpoint, as an air-gapped worker loads it.

No CLIP weights ship on PyPI, so the checkpoint here is a randomly initialised ViT-S-32 saved to
disk: it exercises the real loading, prompt encoding and provenance code, not label quality.
"""

from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

from real_estate_dag.gpu_resources.backends import digest_of, resolve_rooms
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.rooms import ROOM_TYPES


def test_local_open_clip_checkpoint_is_preferred_and_recorded(tmp_path: Path) -> None:
    checkpoint = tmp_path / "vit-s-32.pt"
    torch.manual_seed(0)
    torch.save(open_clip.create_model("ViT-S-32").state_dict(), checkpoint)

    registry = ModelRegistry(device="cpu", clip_model="ViT-S-32", clip_weights=str(checkpoint))
    [preferred, offline] = registry.room_backends()
    assert preferred.name == "open_clip:ViT-S-32" and preferred.digest == digest_of(checkpoint)
    assert offline.name == "mobilenet_v2_imagenet+evidence"
    assert registry.code_versions()["rooms"] == f"open_clip:ViT-S-32@{digest_of(checkpoint)[:12]}"

    model = registry.room_model()
    assert model.backend == preferred and model.fallback_from is None
    assert registry.room_model() is model  # loaded once per process
    images = [Image.fromarray(np.full((224, 300, 3), c, dtype=np.uint8)) for c in (30, 200)]
    probs, embeddings = model.classify(images)
    assert probs.shape == (2, len(ROOM_TYPES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-3)


def test_missing_checkpoint_falls_back_to_the_offline_backend(tmp_path: Path) -> None:
    assert [b.name for b in resolve_rooms(clip_weights=str(tmp_path / "absent.pt"))] == [
        "mobilenet_v2_imagenet+evidence"]
