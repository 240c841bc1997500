from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import ffmpeg

from real_estate_dag.gpu_resources.backends import ShotModel, resolve_shots
from real_estate_dag.gpu_resources.device import bf16_native
from real_estate_dag.ops.decode import decode_video
from real_estate_dag.ops.shots import probabilities_to_shots, transition_probabilities


@pytest.fixture(scope="module")
def shot_model() -> ShotModel:
    return ShotModel(resolve_shots(), "cpu")


def test_streamed_windows_match_the_package_predictions(
    shot_model: ShotModel, short_clip: Path, tmp_path: Path
) -> None:
    frames = np.asarray(decode_video(short_clip, "short.mp4", tmp_path).shot_stream()[:600])
    ours = transition_probabilities(frames, shot_model.predict_windows, batch_windows=3)
    theirs, _ = shot_model.model.predict_frames(torch.from_numpy(frames.copy()), quiet=True)
    assert ours.shape == (600,)
    np.testing.assert_allclose(ours, theirs.numpy().reshape(-1), atol=1e-5)
    shots = probabilities_to_shots(ours)
    assert shots == [tuple(s) for s in shot_model.model.predictions_to_scenes(theirs.numpy().reshape(-1)).tolist()]
    assert len(shots) >= 10  # the test footage is a fast montage


def test_bf16_cuts_match_the_package_within_one_frame(source_video: Path, tmp_path: Path, record_property) -> None:
    """The fast path the pipeline takes on bf16 hardware: 2000 frames where bf16 is native; where it is
    emulated (about 30 s per 100-frame window on 2 AVX2 cores), one window: 50 frames holding two cuts."""
    native = bf16_native("cpu")
    start, count = (0, 2000) if native else (40, 50)
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
    assert len(ours) == len(reference) >= (40 if native else 3)
    assert np.abs(np.array(ours) - np.array(reference)).max() <= 1


def test_the_cut_between_two_real_shots_is_found(
    shot_model: ShotModel, source_video: Path, tmp_path: Path
) -> None:
    joined = tmp_path / "joined.mp4"
    ffmpeg("-ss", "105", "-t", "4", "-i", str(source_video), "-ss", "154", "-t", "4", "-i", str(source_video),
           "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", str(joined))
    decoded = decode_video(joined, "joined.mp4", tmp_path / "d")
    shots = probabilities_to_shots(transition_probabilities(decoded.shot_stream(), shot_model.predict_windows))
    # Both halves are single continuous shots of the footage, so the junction is the only cut.
    assert len(shots) == 2, shots
    assert abs(shots[1][0] - 100) <= 1, shots


def test_shots_from_probabilities_cover_the_video() -> None:
    probs = np.zeros(200)
    probs[[50, 51, 120]] = 0.9
    assert probabilities_to_shots(probs) == [(0, 50), (52, 120), (121, 199)]
    assert probabilities_to_shots(np.zeros(10)) == [(0, 9)]
