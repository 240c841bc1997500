from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import ffmpeg

from real_estate_dag.gpu_resources.backends import ShotModel, resolve_shots
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


def test_bf16_cuts_match_the_package_within_one_frame(source_video: Path, tmp_path: Path) -> None:
    """The fast path the pipeline takes on bf16 hardware (emulated, slowly, elsewhere)."""
    model = ShotModel(resolve_shots(precision="bf16"), "cpu")
    assert model.backend.name == "transnetv2+bf16"
    frames = np.asarray(decode_video(source_video, "test.mp4", tmp_path).shot_stream()[:2000])
    ours = probabilities_to_shots(transition_probabilities(frames, model.predict_windows))
    theirs, _ = model.model.predict_frames(torch.from_numpy(frames.copy()), quiet=True)
    reference = model.model.predictions_to_scenes(theirs.numpy().reshape(-1)).tolist()
    assert len(ours) == len(reference) >= 40
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
