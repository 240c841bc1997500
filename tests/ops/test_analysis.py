"""The analysis pass and the result builders, called directly on real footage with the offline models."""

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from real_estate_dag.gpu_resources.backends import (
    IqaModel,
    MobileNetRoomModel,
    ShotModel,
    resolve_quality,
    resolve_rooms,
    resolve_shots,
)
from real_estate_dag.gpu_resources.detector import COLUMNS, Yolov4TinyModel, resolve_detector
from real_estate_dag.ops.analysis import (
    DecodeSettings,
    DetectSettings,
    Models,
    VideoPass,
    decode_pass,
    stored_pass,
    video_dir_name,
)
from real_estate_dag.ops.evidence import EvidenceSettings
from real_estate_dag.ops.objects import detections_array, objects_report
from real_estate_dag.ops.probe import MediaError, probe_video
from real_estate_dag.ops.reports import Picture, frames_report, quality_report, rooms_report, shots_report
from real_estate_dag.ops.rooms import ROOM_TYPES, SequenceSettings
from real_estate_dag.ops.shots import CutSettings
from real_estate_dag.ops.timecode import video_end_time


def all_models() -> Models:
    # the detector sees every third sampled frame, so batches of 8 start on a frame it skips, too
    return Models(
        device="cpu", batch_size=8, shots=ShotModel(resolve_shots(), "cpu"),
        load_rooms=lambda: MobileNetRoomModel(resolve_rooms()[-1], "cpu"),
        load_quality=lambda: IqaModel(resolve_quality()[-1], "cpu"),
        load_detector=lambda: Yolov4TinyModel(resolve_detector()[-1], 320, 1),
        detect=DetectSettings(stride=3, confidence=0.02),
    )


def facts(path: Path) -> dict:
    return probe_video(path, path.name).to_dict()


@pytest.fixture(scope="module")
def decoded_pass(tiny_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[VideoPass, list[str]]:
    lines: list[str] = []
    out = tmp_path_factory.mktemp("pass") / video_dir_name(0, "tiny 8s.mp4")
    return decode_pass(all_models(), DecodeSettings(), lines.append, tiny_clip, "tiny 8s.mp4", facts(tiny_clip),
                       out), lines


def test_one_decode_feeds_every_model(decoded_pass: tuple[VideoPass, list[str]]) -> None:
    result, lines = decoded_pass
    decoded = result.decoded
    assert decoded.frame_count == 200 and Path(decoded.directory).name == "00-tiny_8s.mp4"
    assert result.probs is not None and result.probs.shape == (200,)
    assert ((result.probs >= 0) & (result.probs <= 1)).all()
    samples = len(decoded.sampled)
    assert samples == 16  # 8 s at 2 fps
    assert result.samples["room_probs"].shape == (samples, len(ROOM_TYPES))
    np.testing.assert_allclose(result.samples["room_probs"].sum(axis=1), 1.0, atol=1e-5)
    assert result.samples["embeddings"].shape[0] == samples
    for measure in ("sharpness", "exposure", "iqa_raw"):
        assert result.samples[measure].shape == (samples,)
    found = result.samples["detections"]
    assert found.shape[1] == len(COLUMNS)
    # only the frames the detector sees have detections, the second batch's (from sample 8) by their own index
    seen = set(found[:, 0].astype(int))
    assert seen <= set(range(0, samples, 3)) and seen & {9, 12, 15}
    assert result.decode_s > 0
    assert any(line.startswith("tiny 8s.mp4: decoded 200 frames") for line in lines)
    assert any("tiny 8s.mp4: shot model" in line for line in lines)


def test_the_stored_frames_give_the_same_results_as_the_decode(decoded_pass: tuple[VideoPass, list[str]]) -> None:
    result, _ = decoded_pass
    again = stored_pass(all_models(), lambda line: None, result.name, result.decoded)
    assert again.probs is not None and result.probs is not None
    np.testing.assert_array_equal(again.probs, result.probs)
    assert again.samples.keys() == result.samples.keys()
    for name, values in result.samples.items():
        np.testing.assert_allclose(again.samples[name], values, rtol=1e-5, atol=1e-6)


def test_only_the_selected_models_run(tiny_clip: Path, tmp_path: Path) -> None:
    shots_only = Models(device="cpu", batch_size=8, shots=ShotModel(resolve_shots(), "cpu"))
    result = decode_pass(shots_only, DecodeSettings(), lambda line: None, tiny_clip, "tiny.mp4", facts(tiny_clip),
                         tmp_path / "frames")
    assert result.probs is not None and result.samples == {}
    assert shots_only.rooms is None and shots_only.quality is None


def test_an_undecodable_video_names_the_file_and_stops_the_workers(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    before = set(threading.enumerate())
    with pytest.raises(MediaError, match=r"^walk\.mp4: cannot be opened for decoding"):
        decode_pass(all_models(), DecodeSettings(), lambda line: None, broken, "walk.mp4",
                    {"duration_s": 8.0, "rotation": 0, "frame_count_estimate": 200}, tmp_path / "frames")
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]


def test_the_reports_hold_values_tables_and_pictures(decoded_pass: tuple[VideoPass, list[str]],
                                                     tmp_path: Path) -> None:
    result, _ = decoded_pass
    passes = [result]
    frames = frames_report(passes, [{"name": result.name}], seconds=2.0)
    assert frames.value == {"videos": [{"name": result.name}]}
    assert frames.metadata["frame_count"] == 200 and frames.metadata["sampled_count"] == 16
    assert frames.metadata["videos"][0]["frames"] == 200
    assert isinstance(frames.metadata["contact_sheet"], Picture)
    assert frames.summary.startswith("video_frames: 1 video, 200 frames decoded, 16 sampled in 2.0 s")

    shots = shots_report(passes, CutSettings(), "transnetv2", "cpu", 2.0, tmp_path)
    [video] = shots.value["videos"]
    covered = [f for s, e in video["shots"] for f in range(s, e + 1)]
    assert covered == sorted(set(covered)) and covered[0] == 0 and covered[-1] == 199
    assert video["shot_seconds"][0][0] == 0.0
    times = result.decoded.times()
    assert video["shot_seconds"][-1][1] == round(video_end_time(times), 3) == 8.0  # the last frame counts
    np.testing.assert_array_equal(np.load(tmp_path / "00-probs.npy"), result.probs)
    assert shots.table == shots.metadata["shots"] and len(shots.table) == shots.metadata["shot_count"]
    assert isinstance(shots.metadata["timeline"].image, Image.Image)

    rooms = rooms_report(passes, [video["shots"]], "mobilenet", "cpu", SequenceSettings(), 2.0, tmp_path,
                         "work/p/rooms", EvidenceSettings())
    segments = rooms.value["segments"]
    assert {s["shot"] for s in segments} == set(range(len(video["shots"])))
    assert all(s["room"] in ROOM_TYPES and 0 < s["confidence"] <= 1 for s in segments)
    assert rooms.value["videos"][0]["embeddings"] == "work/p/rooms/00-embeddings.npy"
    assert np.load(tmp_path / "00-embeddings.npy").shape == result.samples["embeddings"].shape
    assert all(isinstance(row["frames"], Image.Image) for row in rooms.metadata["segments"])
    assert len(rooms.table) == rooms.metadata["segment_count"] == len(segments)
    assert rooms.value["evidence"] == {"object_weight": 3.0, "exemplar_weight": 0.5}

    objects = objects_report(passes, [video["shots"]], "yolov4-tiny", "cpu", DetectSettings(stride=3), 2.0)
    [entry] = objects.value["videos"]
    assert len(entry["detections"]) == len(result.samples["detections"]) == objects.metadata["detection_count"]
    assert objects.metadata["frames_detected"] == 6  # samples 0, 3, ... 15
    assert [r["sample"] for r in objects.table] == [d[0] for d in entry["detections"]]
    assert all(r["frame"] == result.decoded.sampled[r["sample"]].index for r in objects.table)
    assert sum(o["detections"] for o in objects.metadata["objects"]) == len(objects.table)
    assert len(objects.metadata["objects_per_shot"]) == len(video["shots"])
    assert isinstance(objects.metadata["detections"].image, Image.Image)
    np.testing.assert_allclose(detections_array(entry["detections"]), result.samples["detections"], atol=1e-3)
    # fused with the objects, the probabilities still sum to one and the room model's are kept beside them
    fused = rooms_report(passes, [video["shots"]], "mobilenet", "cpu", SequenceSettings(), 2.0, tmp_path,
                         "work/p/rooms", EvidenceSettings(), [result.samples["detections"]])
    [fused_video] = fused.value["videos"]
    np.testing.assert_allclose(np.array(fused_video["sample_probs"]).sum(axis=1), 1.0, atol=1e-3)
    assert fused_video["model_probs"] == rooms.value["videos"][0]["sample_probs"]
    assert np.array(fused_video["object_evidence"]).shape == (16, len(ROOM_TYPES))

    quality_model = IqaModel(resolve_quality()[-1], "cpu")
    scores = quality_report(passes, [video["shots"]], quality_model, "cpu", 2.0)
    assert [r["frame"] for r in scores.value["frames"]] == [s.index for s in result.decoded.sampled]
    assert all(0 <= r["score"] <= 1 for r in scores.value["frames"])
    assert sum(s["samples"] for s in scores.value["shots"]) == 16
    assert scores.metadata["frames_scored"] == 16 and scores.table == scores.value["frames"]
