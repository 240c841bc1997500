"""Room evidence fused before the room sequence: the object rules, their fusion with the room model's
probabilities, and the property's own photos as exemplars, on frames made from the packaged footage."""

from pathlib import Path

import numpy as np
import pytest
from media_helpers import ffmpeg
from PIL import Image

from real_estate_dag.gpu_resources.backends import MobileNetRoomModel, resolve_rooms
from real_estate_dag.gpu_resources.detector import COCO_CLASSES
from real_estate_dag.ops.evidence import (
    EvidenceSettings,
    blend_exemplars,
    frame_objects,
    fuse_objects,
    fused_probabilities,
    object_evidence,
    photo_exemplars,
)
from real_estate_dag.ops.rooms import ROOM_TYPES


def room(name: str) -> int:
    return ROOM_TYPES.index(name)


def detections(*frames: dict[str, float]) -> np.ndarray:
    rows = [[i, COCO_CLASSES.index(name), confidence, 0.1, 0.1, 0.5, 0.5]
            for i, seen in enumerate(frames) for name, confidence in seen.items()]
    return np.array(rows, dtype=np.float32).reshape(-1, 7)


def test_object_rules_read_a_frame_as_a_buyer_would() -> None:
    frames = [{"bed": 0.9}, {"sink": 0.8, "oven": 0.7}, {"sink": 0.8}, {"sink": 0.6, "toilet": 0.9},
              {"dining table": 0.8, "chair": 0.5}, {"dining table": 0.8}, {"couch": 0.7, "tv": 0.5}, {"car": 0.9},
              {"person": 0.99}, {}]
    seen = frame_objects(detections(*frames), len(frames))
    assert seen[1] == {"sink": pytest.approx(0.8), "oven": pytest.approx(0.7)}
    evidence = object_evidence(seen)
    assert evidence.shape == (len(frames), len(ROOM_TYPES))
    top = [ROOM_TYPES[i] if row.max() > 0 else None for i, row in zip(evidence.argmax(axis=1), evidence, strict=True)]
    assert top == ["bedroom", "kitchen", "bathroom", "bathroom", "dining_room", "dining_room", "living_room",
                   "exterior", None, None]
    assert evidence[0, room("bedroom")] == pytest.approx(0.9)
    assert evidence[1, room("bathroom")] == 0  # a sink beside an oven is a kitchen sink
    assert evidence[3, room("kitchen")] == 0  # ... and beside a toilet a bathroom one
    assert 0 < evidence[2, room("kitchen")] < evidence[2, room("bathroom")]  # a sink alone: either, rather a bathroom
    assert evidence[4, room("dining_room")] > evidence[5, room("dining_room")] > 0  # chairs make it a dining room
    # both living-room objects count, as a noisy-or
    assert evidence[6, room("living_room")] == pytest.approx(1 - (1 - 0.7) * (1 - 0.6 * 0.5))


def test_fusion_turns_a_hesitant_frame_with_a_bed_into_a_bedroom_and_leaves_the_rest() -> None:
    probs = np.full((2, len(ROOM_TYPES)), 0.05)
    probs[:, room("living_room")], probs[:, room("bedroom")] = 0.45, 0.25
    probs /= probs.sum(axis=1, keepdims=True)
    evidence = object_evidence(frame_objects(detections({"bed": 0.8}, {}), 2))
    fused = fuse_objects(probs, evidence, EvidenceSettings().object_weight)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    assert fused[0].argmax() == room("bedroom") and probs[0].argmax() == room("living_room")
    np.testing.assert_allclose(fused[1], probs[1])  # no objects: the room model's own probabilities
    np.testing.assert_allclose(fuse_objects(probs, evidence, 0.0), probs)  # weight 0: objects ignored
    with pytest.raises(ValueError, match="'exemplar_weight' must be at most 1"):
        EvidenceSettings(exemplar_weight=1.5)


@pytest.fixture(scope="module")
def shots(source_video: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[float, Image.Image]:
    """Frames of three shots of the packaged footage."""
    folder = tmp_path_factory.mktemp("exemplars")
    frames = {}
    for t in (144.0, 78.0, 12.0):
        ffmpeg("-ss", str(t), "-i", str(source_video), "-frames:v", "1", "-vf", "scale=398:224",
               str(folder / f"{t}.png"))
        frames[t] = Image.open(folder / f"{t}.png").convert("RGB")
    return frames


def test_frames_take_the_room_of_the_property_photo_they_show(shots: dict[float, Image.Image]) -> None:
    model = MobileNetRoomModel(resolve_rooms()[-1], "cpu")
    photo_probs, photo_embeddings = model.classify([shots[144.0], shots[78.0]])
    # the manifest labels the first photo; the second is labelled by the room model
    exemplars = photo_exemplars(["kitchen.jpg", "b.jpg"], photo_probs, photo_embeddings, ["kitchen", None])
    assert exemplars.rows() == [
        {"photo": "kitchen.jpg", "room": "kitchen", "labelled_by": "manifest"},
        {"photo": "b.jpg", "room": ROOM_TYPES[int(photo_probs[1].argmax())], "labelled_by": "classifier"}]
    # the video sees the photographed views framed a little differently, and a third view no photo shows
    def reframed(image: Image.Image) -> Image.Image:
        return image.crop((24, 14, 374, 210)).resize(image.size, Image.Resampling.BILINEAR)

    probs, embeddings = model.classify([reframed(shots[144.0]), reframed(shots[78.0]), shots[12.0]])
    blended = blend_exemplars(probs, embeddings, exemplars.embeddings, exemplars.rooms, 1.0)
    np.testing.assert_allclose(blended.sum(axis=1), 1.0, rtol=1e-6)
    assert probs[0].argmax() != room("kitchen") and blended[0].argmax() == room("kitchen")
    assert blended[1].argmax() == exemplars.rooms[1]
    similarity = embeddings @ exemplars.embeddings.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]
    # a frame of another shot moves less towards the photos than the frames they show
    moved = np.abs(blended - probs).sum(axis=1)
    assert moved[2] < moved[0] and moved[2] < moved[1]
    # the weight scales the blend; without photos or at weight 0 nothing changes
    half = blend_exemplars(probs, embeddings, exemplars.embeddings, exemplars.rooms, 0.5)
    np.testing.assert_allclose(half - probs, (blended - probs) / 2, atol=1e-6)
    np.testing.assert_allclose(blend_exemplars(probs, embeddings, exemplars.embeddings, exemplars.rooms, 0.0), probs)
    fused, evidence = fused_probabilities(probs, embeddings, None, None, EvidenceSettings())
    np.testing.assert_allclose(fused, probs, rtol=1e-6) and np.testing.assert_array_equal(evidence, 0)
