"""Beat tracking on music with a known tempo, and cuts moved onto its beats."""

from pathlib import Path

import numpy as np
import pytest
from music_synth import click_track, noise

from real_estate_dag.ops.beats import analyse_music, beat_grid_picture
from real_estate_dag.ops.select import Candidate, SelectionParams, select_clips, showcase_length

FPS = 25
TIMES = np.arange(5000) / FPS


def candidate(i: int, room: str, start_s: float, end_s: float, score: float) -> Candidate:
    """A segment scored ``score`` throughout, its samples every 0.5 s."""
    sample_times = np.arange(start_s, end_s, 0.5)
    embedding = np.eye(16)[i]
    return Candidate(video="v.mp4", video_index=0, shot=i, segment=i, room=room, first_frame=round(start_s * FPS),
                     last_frame=round(end_s * FPS) - 1, start_s=start_s, end_s=end_s, sample_times=sample_times,
                     sample_scores=np.full(len(sample_times), score),
                     sample_stability=np.full(len(sample_times), 0.8), embedding=embedding, frame_times=TIMES)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[float, tuple[Path, float]]:
    out = tmp_path_factory.mktemp("music")
    return {bpm: (click_track(out / f"click{bpm:g}.wav", bpm, 24.0, first), first)
            for bpm, first in ((100.0, 0.3), (75.0, 0.5), (150.0, 0.2))}


@pytest.mark.parametrize("bpm", [100.0, 75.0, 150.0])
def test_tempo_beats_and_downbeats_of_a_click_track(bpm: float, tracks: dict) -> None:
    path, first = tracks[bpm]
    beats = analyse_music(path)
    assert beats.tempo_bpm == pytest.approx(bpm, rel=0.03)  # neither half nor double time
    assert beats.tempo_confidence > 0.5
    period = 60.0 / bpm
    truth = np.arange(first, 24.0, period)
    tracked = np.array(beats.beats_s[1:-1])
    assert len(tracked) >= len(truth) - 4
    assert np.abs(tracked[:, None] - truth[None, :]).min(axis=1).max() < 0.05
    # the accented (low, loud) click starts each bar
    bars = np.array(beats.downbeats_s)
    bar_truth = truth[::4]
    assert np.abs(bars[:, None] - bar_truth[None, :]).min(axis=1).max() < 0.05
    assert beats.loudness_lufs is not None and -40 < beats.loudness_lufs < 0


def test_cuts_land_on_beats_and_clips_stay_inside_their_segments(tracks: dict) -> None:
    beats = analyse_music(tracks[100.0][0])
    rooms = ["exterior", "living_room", "kitchen", "bedroom", "bathroom"]
    segments = [candidate(i, room, i * 20.0, i * 20.0 + 7.5, 0.6 + 0.05 * i) for i, room in enumerate(rooms)]
    params = SelectionParams(closing_s=3.0)
    plain = select_clips(segments, 20.0, params)
    snapped = select_clips(segments, 20.0, params, beats)
    grid = np.array(beats.beats_s)
    assert len(snapped.cut_offsets_s) == len(snapped.clips) + 2  # title, each clip, and the end
    half_frame = 1 / 60 + 1e-6  # cuts move onto the render's frames
    assert max(snapped.cut_offsets_s) <= half_frame  # every cut on a tracked beat
    assert all(np.abs(grid - t).min() <= half_frame for t in snapped.cuts_s)
    assert np.abs(np.array(beats.downbeats_s) - snapped.cuts_s[-1]).min() <= half_frame  # the music ends on a bar
    lengths = [snapped.title_s, *(c.duration_s for c in snapped.clips), snapped.closing_s]
    assert all(abs(x * 30 - round(x * 30)) < 1e-3 for x in lengths)  # whole frames: the render keeps the grid
    source = {c.shot: c for c in segments}
    for clip in snapped.clips:
        assert source[clip.shot].start_s <= clip.in_s < clip.out_s <= source[clip.shot].end_s
        assert params.min_clip_s - 1e-6 <= clip.duration_s <= params.max_clip_s + 1e-6
    # the time line holds: clip k starts where the crossfade before it starts
    ends = [snapped.title_s] + [c.showcase_out_s for c in snapped.clips]
    assert [c.showcase_in_s for c in snapped.clips] == pytest.approx([e - params.crossfade_s for e in ends[:-1]])
    assert snapped.showcase_s == pytest.approx(showcase_length([c.duration_s for c in snapped.clips], params,
                                                               snapped.title_s, snapped.closing_s))
    assert not plain.cut_offsets_s and plain.title_s == params.title_s
    picture = beat_grid_picture(beats, list(snapped.cuts_s), snapped.showcase_s)
    assert picture.size == (900, 120)


def test_noise_has_no_trusted_tempo_and_moves_no_cut(tmp_path: Path) -> None:
    beats = analyse_music(noise(tmp_path / "noise.wav", 12.0))
    assert beats.tempo_confidence < SelectionParams().min_tempo_confidence
    segments = [candidate(i, room, i * 20.0, i * 20.0 + 7.5, 0.7) for i, room in enumerate(["kitchen", "bedroom"])]
    plain, with_noise = (select_clips(segments, 12.0, SelectionParams(), b) for b in (None, beats))
    assert with_noise.clips == plain.clips and with_noise.cuts_s == plain.cuts_s
