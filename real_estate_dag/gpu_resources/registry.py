"""The model registry resource: one loaded model per backend and device, per process."""

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from dagster import ConfigurableResource

from real_estate_dag.gpu_resources.backends import (
    Backend,
    ClipRoomModel,
    IqaModel,
    MobileNetRoomModel,
    ModelSettings,
    RoomModel,
    ShotModel,
    resolve_quality,
    resolve_rooms,
    resolve_shots,
    shot_precision,
)
from real_estate_dag.gpu_resources.device import choose_device

log = logging.getLogger(__name__)
_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()

ENV = {
    "device": "REDAG_DEVICE",
    "clip_model": "REDAG_CLIP_MODEL",
    "clip_pretrained": "REDAG_CLIP_PRETRAINED",
    "clip_weights": "REDAG_CLIP_WEIGHTS",
    "iqa_metric": "REDAG_IQA_METRIC",
    "models_dir": "REDAG_MODELS_DIR",
}


def settings_from_env() -> ModelSettings:
    values = {field: os.environ[var] for field, var in ENV.items() if os.environ.get(var)}
    return ModelSettings(**values)


def backend_versions(settings: ModelSettings) -> dict[str, str]:
    """The backend each capability will use, as ``name@digest``, for asset code versions."""
    return {
        "shots": resolve_shots(settings, shot_precision(_device_name(settings.device))).version_tag,
        "rooms": resolve_rooms(settings)[0].version_tag,
        "quality": resolve_quality(settings)[0].version_tag,
    }


def _device_name(preference: str) -> str:
    """The device a preference resolves to, without failing where it is missing (for code versions)."""
    try:
        return choose_device(preference)
    except RuntimeError:
        return preference


def _load_first(candidates: list[Backend], device: str, build: Callable[[Backend], Any]) -> Any:
    """Load the first candidate that works; the last (offline) one must."""
    for backend in candidates:
        key = (backend.version_tag, device)
        with _LOCK:
            if key in _LOADED:
                return _LOADED[key]
            try:
                model = build(backend)
            except Exception as exc:
                if backend is candidates[-1]:
                    raise
                log.warning("backend %s could not be loaded (%s); trying the next one",
                            backend.name, exc)
                continue
            log.info("loaded %s on %s", backend.version_tag, device)
            _LOADED[key] = model
            return model
    raise RuntimeError("no backend candidates")


class ModelRegistry(ConfigurableResource):
    """Picks the device and backend for each model capability and loads each model once."""

    device: str = "auto"
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = ""
    clip_weights: str = ""
    iqa_metric: str = "piqe"
    batch_size: int = 32
    models_dir: str = ""

    def settings(self) -> ModelSettings:
        return ModelSettings(
            device=self.device,
            clip_model=self.clip_model,
            clip_pretrained=self.clip_pretrained,
            clip_weights=self.clip_weights,
            iqa_metric=self.iqa_metric,
            batch_size=self.batch_size,
            models_dir=self.models_dir,
        )

    def resolved_device(self) -> str:
        return choose_device(self.device)

    def shot_model(self) -> ShotModel:
        device = self.resolved_device()
        backend = resolve_shots(self.settings(), shot_precision(device))
        return _load_first([backend], device, lambda b: ShotModel(b, device))

    def room_model(self) -> RoomModel:
        device = self.resolved_device()

        def build(backend: Backend) -> RoomModel:
            if backend.name.startswith("open_clip:"):
                return ClipRoomModel(backend, device, self.clip_model)
            return MobileNetRoomModel(backend, device)

        return _load_first(resolve_rooms(self.settings()), device, build)

    def quality_model(self) -> IqaModel:
        device = self.resolved_device()
        return _load_first(resolve_quality(self.settings()), device, lambda b: IqaModel(b, device))
