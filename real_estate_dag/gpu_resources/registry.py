"""The model registry resource: one loaded model per backend and device, per process."""

import logging
import threading
from collections.abc import Callable
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from real_estate_dag.gpu_resources.backends import (
    PRECISIONS,
    QUALITY,
    ROOMS,
    SHOTS,
    Backend,
    ClipRoomModel,
    IqaModel,
    LoadedModel,
    MobileNetRoomModel,
    RoomModel,
    ShotModel,
    resolve_quality,
    resolve_rooms,
    resolve_shots,
)
from real_estate_dag.gpu_resources.detector import (
    DETECTOR,
    DetectorModel,
    UltralyticsModel,
    Yolov4TinyModel,
    resolve_detector,
)
from real_estate_dag.gpu_resources.device import bf16_native, choose_device, thread_plan
from real_estate_dag.gpu_resources.moderation import MODERATION, ModerationModel, resolve_moderation
from real_estate_dag.gpu_resources.segmentation import (
    SEGMENTATION,
    BiRefNetSegmenter,
    GrabCutSegmenter,
    resolve_segmentation,
)
from real_estate_dag.gpu_resources.speech import SPEECH, SpeechModel, VadModel, resolve_speech, resolve_vad
from real_estate_dag.resources.env import Settings

log = logging.getLogger(__name__)
_LOADED: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def _load_first(candidates: list[Backend], key: tuple[Any, ...], build: Callable[[Backend], LoadedModel]) -> Any:
    """Load the first candidate that works; the last (offline) one must. A later candidate records
    which preferred backend failed and why. Each list of candidates loads once per process."""
    key = (tuple(b.version_tag for b in candidates), *key)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        failed: tuple[Backend, Exception] | None = None
        for backend in candidates:
            try:
                model = build(backend)
            except Exception as exc:
                if backend is candidates[-1]:
                    raise
                log.warning("backend %s could not be loaded (%s); trying the next one", backend.name, exc)
                failed = failed or (backend, exc)
                continue
            if failed is not None:
                model.fallback_from = failed[0].version_tag
                model.fallback_reason = f"{failed[0].weights}: {type(failed[1]).__name__}: {failed[1]}"
            log.info("loaded %s on %s (%s)", backend.version_tag, model.device, model.precision)
            _LOADED[key] = model
            return model
    raise RuntimeError("no backend candidates")


class ModelRegistry(ConfigurableResource):
    """Picks the device and backend for each model capability and loads each model once."""

    device: str = Field(default="auto", description="auto (cuda when visible, else cpu), cpu, cuda, cuda:1")
    shot_precision: str = Field(
        default="auto", description="auto: bf16 where the device runs it natively, else fp32")
    clip_model: str = Field(default="ViT-B-32", description="open_clip model of the preferred room backend")
    clip_pretrained: str = Field(default="", description="open_clip pretrained tag (needs the model hub)")
    clip_weights: str = Field(default="", description="a local open_clip checkpoint (air-gapped workers)")
    room_head: str = Field(default="default", description="head on the room backbone's embeddings: default (the "
                           "packaged one, offline backend), none, or a file from `real-estate-dag rooms fit`")
    detector_weights: str = Field(default="", description="ultralytics YOLO for object evidence: a local .pt, or "
                                  "a name or model YAML ultralytics resolves (its hub); empty: packaged yolov4-tiny")
    detector_size: int = Field(default=320, description="detector input side in pixels (multiple of 32)")
    iqa_metric: str = Field(default="piqe", description="pyiqa metric; others than piqe need their weights")
    batch_size: int = Field(default=32, description="sampled frames per room/quality inference batch")
    models_dir: str = Field(default="", description="prefetched weights folder, used before package files")
    speech_model: str = Field(default="", description="faster-whisper model: a local CTranslate2 folder or a hub "
                              "id (small.en); empty: the packaged whisper tiny.en")
    segmentation_weights: str = Field(default="", description="a local BiRefNet folder for the agent intro; "
                                      "empty: OpenCV GrabCut")

    def shot_backend(self) -> Backend:
        return resolve_shots(self.models_dir)

    def room_backends(self) -> list[Backend]:
        return resolve_rooms(self.clip_model, self.clip_pretrained, self.clip_weights, self.models_dir,
                             self.room_head)

    def quality_backends(self) -> list[Backend]:
        return resolve_quality(self.iqa_metric, self.models_dir)

    def detector_backends(self) -> list[Backend]:
        return resolve_detector(self.detector_weights)

    def code_versions(self) -> dict[str, str]:
        """The preferred backend of each capability as ``name@digest``: what the settings ask for, the same
        on every machine (no device, precision or fallback: those are recorded in metadata)."""
        return {
            SHOTS: self.shot_backend().version_tag,
            ROOMS: self.room_backends()[0].version_tag,
            QUALITY: self.quality_backends()[0].version_tag,
            DETECTOR: f"{self.detector_backends()[0].version_tag}@{self.detector_size}px",
            **self.safety_code_versions(),
        }

    def safety_code_versions(self) -> dict[str, str]:
        """Speech (recogniser + voice activity), moderation and segmentation backends."""
        return {
            SPEECH: f"{resolve_speech(self.speech_model)[0].version_tag}+{resolve_vad().version_tag}",
            MODERATION: resolve_moderation().version_tag,
            SEGMENTATION: resolve_segmentation(self.segmentation_weights)[0].version_tag,
        }

    def resolved_device(self) -> str:
        return choose_device(self.device)

    def resolved_shot_precision(self, device: str) -> str:
        if self.shot_precision == "auto":
            return "bf16" if bf16_native(device) else "fp32"
        if self.shot_precision not in PRECISIONS:
            raise ValueError(f"shot_precision={self.shot_precision!r}: expected auto, {' or '.join(PRECISIONS)}")
        return self.shot_precision

    def shot_model(self) -> ShotModel:
        device = self.resolved_device()
        precision = self.resolved_shot_precision(device)
        return _load_first([self.shot_backend()], (device, precision), lambda b: ShotModel(b, device, precision))

    def room_model(self) -> RoomModel:
        device = self.resolved_device()

        def build(backend: Backend) -> RoomModel:
            if backend.name.startswith("open_clip:"):
                return ClipRoomModel(backend, device, self.clip_model)
            return MobileNetRoomModel(backend, device)

        return _load_first(self.room_backends(), (device,), build)

    def detector_model(self) -> DetectorModel:
        device = self.resolved_device()
        if self.detector_size < 32 or self.detector_size % 32:
            raise ValueError(f"detector_size={self.detector_size}: expected a multiple of 32")

        def build(backend: Backend) -> DetectorModel:
            if backend.name == "ultralytics":
                return UltralyticsModel(backend, device, self.detector_size)
            return Yolov4TinyModel(backend, self.detector_size, thread_plan("cpu").sample_threads)

        return _load_first(self.detector_backends(), (device, self.detector_size), build)

    def quality_model(self) -> IqaModel:
        device = self.resolved_device()
        return _load_first(self.quality_backends(), (device,), lambda b: IqaModel(b, device))


    def recognition_model(self) -> SpeechModel:
        device = self.resolved_device()
        return _load_first(resolve_speech(self.speech_model), (device,), lambda b: SpeechModel(b, device))

    def vad_model(self) -> VadModel:
        return _load_first([resolve_vad()], ("cpu",), lambda b: VadModel(b, "cpu"))

    def moderation_model(self) -> ModerationModel:
        return _load_first([resolve_moderation()], ("cpu",), lambda b: ModerationModel(b, "cpu"))

    def segmentation_model(self) -> BiRefNetSegmenter | GrabCutSegmenter:
        device = self.resolved_device()

        def build(backend: Backend) -> BiRefNetSegmenter | GrabCutSegmenter:
            segmenter = BiRefNetSegmenter if backend.name == "birefnet" else GrabCutSegmenter
            return segmenter(backend, device)

        return _load_first(resolve_segmentation(self.segmentation_weights), (device,), build)


MODEL_SETTINGS = Settings(ModelRegistry, {
    "device": "REDAG_DEVICE",
    "shot_precision": "REDAG_SHOT_PRECISION",
    "clip_model": "REDAG_CLIP_MODEL",
    "clip_pretrained": "REDAG_CLIP_PRETRAINED",
    "clip_weights": "REDAG_CLIP_WEIGHTS",
    "room_head": "REDAG_ROOM_HEAD",
    "detector_weights": "REDAG_DETECTOR_WEIGHTS",
    "detector_size": "REDAG_DETECTOR_SIZE",
    "iqa_metric": "REDAG_IQA_METRIC",
    "batch_size": "REDAG_BATCH_SIZE",
    "models_dir": "REDAG_MODELS_DIR",
    "speech_model": "REDAG_SPEECH_MODEL",
    "segmentation_weights": "REDAG_SEGMENTATION_WEIGHTS",
})
