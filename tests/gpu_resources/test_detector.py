"""The detector capability's backends: the packaged yolov4-tiny on OpenCV's DNN module finding the people in
the packaged footage, and ultralytics YOLO built from its model YAML (random weights, nothing downloaded),
from the hub name and from a local .pt file, each with its digest in exactly the assets it feeds."""

from pathlib import Path

import numpy as np
import pytest
from media_helpers import ffmpeg
from PIL import Image

from real_estate_dag.definitions import location_assets
from real_estate_dag.gpu_resources.backends import digest_of
from real_estate_dag.gpu_resources.detector import COCO_CLASSES, COLUMNS, YOLOV4_TINY, resolve_detector
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import ModelRegistry

PEOPLE_AT_S = (42.0, 144.0)  # close-ups of a person in the transnetv2 test montage


@pytest.fixture(scope="module")
def frames(source_video: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Image.Image]:
    """Two frames with a person and one without (a black frame), as the pipeline samples them (short side 224)."""
    folder = tmp_path_factory.mktemp("detector")
    images = []
    for t in PEOPLE_AT_S:
        ffmpeg("-ss", str(t), "-i", str(source_video), "-frames:v", "1", "-vf", "scale=398:224",
               str(folder / f"{t}.png"))
        images.append(Image.open(folder / f"{t}.png").convert("RGB"))
    return [*images, Image.new("RGB", (398, 224))]


def test_the_packaged_yolov4_tiny_finds_the_person_in_real_footage(frames: list[Image.Image]) -> None:
    registry = ModelRegistry(device="cpu", detector_size=320)
    model = registry.detector_model()
    assert model.backend.version_tag == f"yolov4-tiny-coco:opencv-dnn@{YOLOV4_TINY.sha256[:12]}"
    assert provenance(model)["weights_sha256"] == YOLOV4_TINY.sha256 and model.fallback_from is None
    found = model.detect(frames, confidence=0.3)
    assert found.shape[1] == len(COLUMNS)
    for image in (0, 1):
        people = found[(found[:, 0] == image) & (found[:, 1] == COCO_CLASSES.index("person"))]
        assert len(people) >= 1 and people[:, 2].max() >= 0.5
        x0, y0, x1, y1 = people[people[:, 2].argmax(), 3:]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and (x1 - x0) * (y1 - y0) > 0.05  # a close-up
    assert not (found[:, 0] == 2).any()  # nothing in a black frame
    assert (found[:, 2] >= 0.3).all()
    assert registry.code_versions()["detector"] == f"{model.backend.version_tag}@320px"


def test_ultralytics_from_its_yaml_loads_first_and_downloads_nothing(
        frames: list[Image.Image], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ultralytics would save a download here
    registry = ModelRegistry(device="cpu", detector_weights="yolov8n.yaml", detector_size=320)
    [preferred, offline] = registry.detector_backends()
    assert preferred.name == "ultralytics" and offline.packaged is YOLOV4_TINY
    model = registry.detector_model()
    assert model.backend == preferred and model.fallback_from is None
    found = model.detect(frames, confidence=1e-9)  # random weights: boxes of any class, all unsure
    assert found.shape[1] == len(COLUMNS) and len(found) > 0
    assert set(np.unique(found[:, 0])) <= {0, 1, 2} and found[:, 1].max() < len(COCO_CLASSES)
    assert ((found[:, 3:] >= 0) & (found[:, 3:] <= 1)).all()
    assert list(tmp_path.iterdir()) == []

    # saved, it loads as a local file named by its digest; the version changes only the assets it feeds
    path = tmp_path / "detector.pt"
    model.model.save(str(path))
    local = ModelRegistry(device="cpu", detector_weights=str(path))
    assert local.detector_backends()[0].digest == digest_of(path)
    assert local.detector_model().backend.weights == str(path)
    default = versions_of(ModelRegistry())
    changed = versions_of(local)
    assert {k for k in default if changed[k] != default[k]} == {"detected_objects", "room_labels", "photo_analysis",
                                                                 "agent_intro"}
    assert f"ultralytics@{digest_of(path)[:12]}" in changed["room_labels"]


def test_without_weights_or_ultralytics_the_packaged_detector_is_the_only_backend(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert [b.name for b in resolve_detector()] == ["yolov4-tiny-coco:opencv-dnn"]
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ultralytics" else real(name, *a))
    assert [b.name for b in resolve_detector("yolov8n.pt")] == ["yolov4-tiny-coco:opencv-dnn"]


def test_a_detector_size_that_is_no_multiple_of_32_is_refused() -> None:
    with pytest.raises(ValueError, match="detector_size=300: expected a multiple of 32"):
        ModelRegistry(device="cpu", detector_size=300).detector_model()


def versions_of(registry: ModelRegistry) -> dict[str, str]:
    return {spec.key.to_user_string(): spec.code_version for a in location_assets(registry) for spec in a.specs}
