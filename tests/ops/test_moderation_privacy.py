"""NudeNet on frames of the packaged footage (which shows faces): ordinary frames pass the default
moderation, a blocked face class blocks with file and time, and blurred clips show no face."""

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.moderation import EXPLICIT, FACES, block_message, blocking, scan
from real_estate_dag.ops.privacy import blur_clip, protect_photos
from real_estate_dag.ops.render import RenderClip

FACE_SCORE = 0.3


def frames(path: Path, every: int = 1, start_s: float = 0.0, end_s: float = 1e9) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        decoded = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)
                   if start_s <= f.time < end_s]
    return decoded[::every]


@pytest.fixture(scope="module")
def detector():
    return ModelRegistry().moderation_model()


def faces_in(detector, images: list[np.ndarray]) -> list[int]:
    return [sum(d.label in FACES and d.score >= FACE_SCORE for d in detector.detect(image)) for image in images]


def test_default_moderation_passes_ordinary_frames_and_a_blocked_face_class_names_file_and_time(
        detector, narrated_clip: Path) -> None:
    sampled = [("walk.mp4", round(t, 2), image) for t, image in frames(narrated_clip, every=12, end_s=3.0)]
    findings = scan(sampled, detector.detect, FACE_SCORE)
    assert any(f.label in FACES for f in findings)  # the footage shows a face
    assert blocking(findings, EXPLICIT, 0.5) == []
    blocked = blocking(findings, (*EXPLICIT, "FACE_FEMALE"), 0.5)
    assert blocked and all(f.label == "FACE_FEMALE" and f.score >= 0.5 for f in blocked)
    message = block_message(blocked)
    assert f"walk.mp4 at {blocked[0].time_s:.2f} s: FACE_FEMALE" in message


def test_faces_are_blurred_in_a_clip(detector, narrated_clip: Path, tmp_path: Path) -> None:
    with av.open(str(narrated_clip)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
    before = faces_in(detector, [image for _, image in frames(narrated_clip, every=6, start_s=0.4, end_s=1.6)])
    assert sum(n > 0 for n in before) >= len(before) // 2
    out = tmp_path / "blurred.mp4"
    report = blur_clip(narrated_clip, 0.4, 1.2, size, out, detector.detect, FACES, FACE_SCORE)
    assert report.frames == 36 and report.blurred_frames > 18
    after_frames = frames(out, every=3)
    assert faces_in(detector, [image for _, image in after_frames]) == [0] * len(after_frames)
    with av.open(str(out)) as container:
        assert container.streams.audio and container.duration / av.time_base == pytest.approx(1.2, abs=0.1)


def test_faces_are_blurred_in_a_listing_photo_and_nothing_else_changes(detector, narrated_clip: Path,
                                                                       tmp_path: Path) -> None:
    _, frame = frames(narrated_clip, start_s=1.0, end_s=1.1)[0]
    photo = tmp_path / "front.jpg"
    Image.fromarray(frame).resize((1280, 720), Image.Resampling.BICUBIC).save(photo, quality=95)
    original = np.asarray(Image.open(photo).convert("RGB"))
    assert faces_in(detector, [original]) != [0]
    clip = RenderClip(photo, 0.0, 3.0, False, 16 / 9, kind="photo", source_id="photo:abc")
    entry = {"order": 2, "video": "photos/front.jpg"}
    finding = {"file": "photos/front.jpg", "time_s": None, "label": "FACE_FEMALE", "score": 0.8}
    untouched, rows = protect_photos([clip], [entry], [{**finding, "file": "photos/other.jpg"}], FACES, FACE_SCORE,
                                     detector.detect, tmp_path / "privacy")
    assert untouched == [clip] and rows == []
    [protected], [row] = protect_photos([clip], [entry], [finding], FACES, FACE_SCORE, detector.detect,
                                        tmp_path / "privacy")
    assert protected.path != photo and protected.source_id != clip.source_id and row["boxes"] >= 1
    blurred = np.asarray(Image.open(protected.path).convert("RGB"))
    assert faces_in(detector, [blurred]) == [0]
    changed = np.abs(blurred.astype(int) - original.astype(int)).max(axis=2) > 24
    assert 0.001 < changed.mean() < 0.5  # the face, not the whole photo
    assert Image.open(photo).tobytes() == Image.fromarray(original).tobytes()  # the photo itself is not altered
