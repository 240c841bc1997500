import json
from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import ffmpeg

from real_estate_dag.gpu_resources.backends import ShotModel, resolve_shots
from real_estate_dag.gpu_resources.device import bf16_native
from real_estate_dag.ops.decode import decode_video
from real_estate_dag.ops.shots import (
    CutSettings,
    content_change,
    fused_shots,
    probabilities_to_shots,
    transition_probabilities,
)
from real_estate_dag.ops.visuals import TimelineRow, shot_timeline

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "transnetv2_test_cuts.json").read_text())


@pytest.fixture(scope="module")
def shot_model() -> ShotModel:
    return ShotModel(resolve_shots(), "cpu")


def test_streamed_windows_match_the_package_predictions(
    shot_model: ShotModel, short_clip: Path, tmp_path: Path
) -> None:
    frames = np.asarray(decode_video(short_clip, "short.mp4", tmp_path).shot_stream()[:300])
    ours = transition_probabilities(frames, shot_model.predict_windows, batch_windows=3)
    theirs, _ = shot_model.model.predict_frames(torch.from_numpy(frames.copy()), quiet=True)
    assert ours.shape == (300,)
    np.testing.assert_allclose(ours, theirs.numpy().reshape(-1), atol=1e-5)
    shots = probabilities_to_shots(ours)
    assert shots == [tuple(s) for s in shot_model.model.predictions_to_scenes(theirs.numpy().reshape(-1)).tolist()]
    assert len(shots) >= 8  # the test footage is a fast montage (13 hand-checked cuts in these frames)


def test_bf16_cuts_match_the_package_within_one_frame(source_video: Path, tmp_path: Path, record_property) -> None:
    """The fast path the pipeline takes on bf16 hardware: 500 frames (17 hand-checked cuts) where bf16 is
    native; where it is emulated (about 30 s per 100-frame window on 2 AVX2 cores), one window: 50 frames
    holding two cuts."""
    native = bf16_native("cpu")
    start, count = (0, 500) if native else (40, 50)
    record_property("bf16_input", f"{count} frames, bf16 {'native' if native else 'emulated'}")
    print(f"bf16 numerics on {count} frames (bf16 {'native' if native else 'emulated'} on this CPU)")
    model = ShotModel(resolve_shots(), "cpu", precision="bf16")
    assert model.precision == "bf16" and model.backend.name == "transnetv2"
    frames = np.asarray(decode_video(source_video, "test.mp4", tmp_path).shot_stream()[start : start + count])
    probs = transition_probabilities(frames, model.predict_windows)
    theirs, _ = model.model.predict_frames(torch.from_numpy(frames.copy()), quiet=True)
    assert np.abs(probs - theirs.numpy().reshape(-1)).max() < 0.05
    ours = probabilities_to_shots(probs)
    reference = model.model.predictions_to_scenes(theirs.numpy().reshape(-1)).tolist()
    assert len(ours) == len(reference) >= (12 if native else 3)
    assert np.abs(np.array(ours) - np.array(reference)).max() <= 1


def test_the_cut_between_two_real_shots_is_found(
    shot_model: ShotModel, source_video: Path, tmp_path: Path
) -> None:
    joined = tmp_path / "joined.mp4"
    ffmpeg("-ss", "18.4", "-t", "4", "-i", str(source_video), "-ss", "155", "-t", "4", "-i", str(source_video),
           "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", str(joined))
    decoded = decode_video(joined, "joined.mp4", tmp_path / "d")
    probs = transition_probabilities(decoded.shot_stream(), shot_model.predict_windows)
    content = content_change(decoded.shot_stream())
    # Both halves lie inside single shots of the hand-checked list (frames 456-572, 3864-3989): one cut.
    for shots in (probabilities_to_shots(probs), fused_shots(probs, content, CutSettings())):
        assert len(shots) == 2, shots
        assert abs(shots[1][0] - 100) <= 1, shots
    assert int(np.argmax(content)) == 99  # the picture changes from frame 99 to frame 100
    np.testing.assert_array_equal(content_change(decoded.shot_stream(), chunk=7), content)


def test_shots_from_probabilities_cover_the_video() -> None:
    probs = np.zeros(200)
    probs[[50, 51, 120]] = 0.9
    assert probabilities_to_shots(probs) == [(0, 50), (52, 120), (121, 199)]
    assert probabilities_to_shots(np.zeros(10)) == [(0, 9)]


def test_a_content_jump_confirms_a_cut_the_model_scores_low_and_gradual_transitions_stay() -> None:
    settings = CutSettings(threshold=0.5, low_threshold=0.02, content_ratio=3.0, content_min=12.0, window=2)
    probs, content = np.zeros(400), np.full(400, 2.0)
    probs[100], content[100] = 0.1, 40.0  # a hard cut TransNetV2 is unsure of
    content[150] = 40.0  # the same jump, where TransNetV2 sees nothing at all (a flash, say)
    probs[200:206], content[200:206] = 0.1, 40.0  # fast motion: large changes, no single one stands out
    probs[300:306] = [0.3, 0.6, 0.8, 0.8, 0.6, 0.3]  # a dissolve, marked by TransNetV2 over frames 301-304
    probs[306], content[306] = 0.05, 40.0  # the jump at its end belongs to the dissolve
    assert probabilities_to_shots(probs) == [(0, 301), (305, 399)]
    assert fused_shots(probs, content, settings) == [(0, 100), (101, 301), (305, 399)]
    assert fused_shots(probs, content, CutSettings(content_min=50.0)) == [(0, 301), (305, 399)]


def cut_scores(shots: list[tuple[int, int]]) -> tuple[float, float]:
    """Recall of the hand-checked hard cuts (a shot starting within 1 frame of one) and precision of the
    shot starts: right when they are such a hard cut, or the first inside a gradual transition."""
    hard, gradual = set(REFERENCE["hard_cuts"]), [tuple(g) for g in REFERENCE["gradual"]]
    found, right = set(), 0
    for start, _ in shots[1:]:
        match = next((c for c in (start, start - 1, start + 1) if c in hard and c not in found), None)
        span = next((g for g in gradual if g[0] - 1 <= start <= g[1] + 1 and g not in found), None)
        if match is not None or span is not None:
            found.add(match if match is not None else span)
            right += 1
    return len(found & hard) / len(hard), right / (len(shots) - 1)


def test_fusion_finds_the_hand_checked_cuts_of_the_montage(
    shot_model: ShotModel, source_video: Path, tmp_path: Path, record_property
) -> None:
    decoded = decode_video(source_video, "test.mp4", tmp_path)
    assert decoded.frame_count == REFERENCE["frames"]
    stream = shot_model.stream()  # the pipeline's threaded windows: one worker per core
    for frame in decoded.shot_stream():
        stream.add(frame)
    probs = stream.finish()
    content = content_change(decoded.shot_stream())
    alone = cut_scores(probabilities_to_shots(probs))
    fused = cut_scores(fused_shots(probs, content, CutSettings()))
    record_property("cuts", f"recall/precision TransNetV2 alone {alone[0]:.3f}/{alone[1]:.3f}, "
                            f"fused {fused[0]:.3f}/{fused[1]:.3f}")
    print(f"TransNetV2 alone {alone}, fused {fused}")
    assert fused[0] >= 0.98 and fused[1] >= 0.99
    assert fused[0] > alone[0]


def test_the_timeline_draws_the_content_score_under_the_probability() -> None:
    probs, content = np.zeros(250), np.zeros(250)
    probs[99:101], content[150] = 0.95, 1.0
    pixels = np.asarray(shot_timeline([TimelineRow("walk.mp4", 10.0, [(0.0, 3.96), (4.04, 10.0)], probs, content)],
                                      width=508))
    curve = pixels[8 + 18 + 26 + 4 : 8 + 18 + 26 + 4 + 34, :].astype(int)
    x_of = lambda t: round(8 + 492 * t / 10.0)  # noqa: E731
    green = np.argwhere((curve[..., 1] - curve[..., 0] > 40) & (curve[..., 1] - curve[..., 2] > 40))
    red = np.argwhere((curve[..., 0] > 180) & (curve[..., 1] < 120))
    assert len(green) and abs(green[:, 1].mean() - x_of(6.0)) < 20 and green[:, 0].min() <= 3
    assert len(red) and abs(red[:, 1].mean() - x_of(4.0)) < 20
