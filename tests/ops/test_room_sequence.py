"""The room sequence: the Viterbi pass on synthetic probability sequences, checked against brute force,
and room_labels on real footage (its shots, its path and its picture)."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from real_estate_dag.gpu_resources.backends import MobileNetRoomModel, ShotModel, resolve_rooms, resolve_shots
from real_estate_dag.ops.analysis import DecodeSettings, Models, decode_pass
from real_estate_dag.ops.evidence import EvidenceSettings
from real_estate_dag.ops.probe import probe_video
from real_estate_dag.ops.reports import Picture, rooms_report, shots_report
from real_estate_dag.ops.rooms import ROOM_TYPES, SequenceSettings, label_segments, room_path
from real_estate_dag.ops.shots import CutSettings
from real_estate_dag.ops.visuals import encode

KITCHEN, BEDROOM, BATHROOM = (ROOM_TYPES.index(r) for r in ("kitchen", "bedroom", "bathroom"))
STEP_S = 0.5  # 2 samples per second, as the pipeline samples
DEFAULTS = SequenceSettings()


def probabilities(rooms: list[int], sure: float = 0.8) -> np.ndarray:
    """One row per sample: ``sure`` on its room, the rest spread over the others."""
    probs = np.full((len(rooms), len(ROOM_TYPES)), (1 - sure) / (len(ROOM_TYPES) - 1))
    probs[np.arange(len(rooms)), rooms] = sure
    return probs


def path_of(probs: np.ndarray, cuts: tuple[int, ...] = (), settings: SequenceSettings = DEFAULTS) -> np.ndarray:
    """The room path of samples STEP_S apart, with a cut before each sample index in ``cuts``."""
    n = len(probs)
    shot = np.searchsorted(np.array(cuts, dtype=np.int64), np.arange(n), side="right")
    starts = np.arange(n) * STEP_S
    return room_path(np.log(probs), shot, starts, starts + STEP_S, settings)


def runs(path: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, last, room) of each run of the path."""
    edges = [0, *np.flatnonzero(np.diff(path)) + 1, len(path)]
    return [(a, b - 1, int(path[a])) for a, b in itertools.pairwise(edges)]


def test_a_brief_flicker_does_not_switch() -> None:
    rooms = [KITCHEN] * 40
    rooms[12:14] = [BEDROOM, BEDROOM]  # one second of another room's evidence
    rooms[30] = BATHROOM
    probs = probabilities(rooms, sure=0.95)
    assert runs(path_of(probs)) == [(0, 39, KITCHEN)]


def test_a_sustained_change_switches_at_the_right_frame() -> None:
    rooms = [KITCHEN] * 17 + [BEDROOM] * 23
    assert runs(path_of(probabilities(rooms))) == [(0, 16, KITCHEN), (17, 39, BEDROOM)]
    # noisy evidence on both sides: one contrary frame on each side, and the switch still lands on 17
    rooms[5], rooms[30] = BEDROOM, KITCHEN
    assert runs(path_of(probabilities(rooms))) == [(0, 16, KITCHEN), (17, 39, BEDROOM)]


def test_no_run_inside_a_take_is_shorter_than_the_dwell_minimum() -> None:
    rng = np.random.default_rng(7)
    rooms = list(np.repeat(rng.integers(0, 3, 30), 4))  # the evidence changes room every 2 s
    probs = probabilities(rooms, sure=0.9)
    free = runs(path_of(probs, settings=SequenceSettings(switch_penalty=0.5, min_dwell_s=0.5)))
    assert min(b - a + 1 for a, b, _ in free) * STEP_S < 3.0  # without the minimum the path follows it
    dwell = runs(path_of(probs, settings=SequenceSettings(switch_penalty=0.5, min_dwell_s=3.0)))
    assert len(dwell) > 1 and all((b - a + 1) * STEP_S >= 3.0 for a, b, _ in dwell)


def test_a_cut_allows_a_short_room_that_a_take_does_not() -> None:
    rooms = [KITCHEN] * 10 + [BATHROOM] * 4 + [KITCHEN] * 10  # 2 s of bathroom, under the 3 s minimum
    probs = probabilities(rooms, sure=0.9)
    assert runs(path_of(probs)) == [(0, 23, KITCHEN)]
    assert runs(path_of(probs, cuts=(10, 14))) == [(0, 9, KITCHEN), (10, 13, BATHROOM), (14, 23, KITCHEN)]
    # a cut with a penalty as high as a take's is no cheaper: two switches cost more than 2 s of evidence
    strict = SequenceSettings(switch_penalty=30.0, cut_switch_penalty=30.0)
    assert runs(path_of(probs, cuts=(10, 14), settings=strict)) == [(0, 23, KITCHEN)]


def test_the_path_is_deterministic_and_ties_break_stably() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(len(ROOM_TYPES)) * 0.3, 120)
    first = path_of(probs, cuts=(40, 41, 90))
    assert np.array_equal(first, path_of(probs.copy(), cuts=(40, 41, 90)))
    # no evidence either way: one run, of the first room type
    assert runs(path_of(np.full((20, len(ROOM_TYPES)), 1 / len(ROOM_TYPES)))) == [(0, 19, 0)]
    # a free cut into a shot that could be either room keeps the room
    tie = probabilities([BEDROOM] * 10 + [KITCHEN] * 10)
    tie[10:, BEDROOM] = tie[10:, KITCHEN]
    assert runs(path_of(tie, cuts=(10,), settings=SequenceSettings(cut_switch_penalty=0.0))) == [(0, 19, BEDROOM)]


@pytest.mark.parametrize("field", ["switch_penalty", "cut_switch_penalty", "min_dwell_s"])
def test_a_negative_setting_is_refused_by_name(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^room sequence setting '{field}' must be a number at least 0, not -1"):
        SequenceSettings(**{field: -1.0})
    with pytest.raises(ValueError, match=rf"'{field}' must be a number at least 0, not nan"):
        SequenceSettings(**{field: float("nan")})


def brute_force(log_evidence: np.ndarray, shot: np.ndarray, settings: SequenceSettings, steps: int) -> float:
    """The best score over every labelling that keeps the dwell minimum (runs counted in samples)."""
    best = -np.inf
    for labels in itertools.product(range(log_evidence.shape[1]), repeat=len(shot)):
        path = np.array(labels)
        edges = [0, *[i for i in range(1, len(path)) if path[i] != path[i - 1] or shot[i] != shot[i - 1]],
                 len(path)]
        pieces = list(itertools.pairwise(edges))
        whole = {a: b for a, b in pieces if (a == 0 or shot[a] != shot[a - 1])
                 and (b == len(path) or shot[b] != shot[b - 1])}
        if any(b - a < steps and whole.get(a) != b for a, b in pieces):
            continue
        score = float(log_evidence[np.arange(len(path)), path].sum())
        for i in range(1, len(path)):
            if path[i] != path[i - 1]:
                score -= settings.cut_switch_penalty if shot[i] != shot[i - 1] else settings.switch_penalty
        best = max(best, score)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_the_path_is_the_best_labelling_that_keeps_the_dwell_minimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 9, 3
    log_evidence = np.log(rng.dirichlet(np.ones(k) * 0.5, n))
    shot = np.sort(rng.integers(0, 3, n))
    settings = SequenceSettings(switch_penalty=1.5, cut_switch_penalty=0.5, min_dwell_s=1.0)
    starts = np.arange(n) * STEP_S
    path = room_path(log_evidence, shot, starts, starts + STEP_S, settings)
    switches = sum(settings.cut_switch_penalty if shot[i] != shot[i - 1] else settings.switch_penalty
                   for i in range(1, n) if path[i] != path[i - 1])
    score = float(log_evidence[np.arange(n), path].sum()) - switches
    assert score == pytest.approx(brute_force(log_evidence, shot, settings, steps=2))


def test_segments_follow_the_path_inside_shots() -> None:
    times = np.arange(500) / 25
    sample_frames = np.arange(0, 500, 12)  # ~2 fps
    rooms = [KITCHEN if f < 250 else BEDROOM for f in sample_frames]
    rooms[5] = BEDROOM  # a single-sample flicker
    sequence = label_segments("v.mp4", [(0, 399), (400, 499)], times, sample_frames, probabilities(rooms))
    assert [(s.shot, s.room) for s in sequence.segments] == [(0, "kitchen"), (0, "bedroom"), (1, "bedroom")]
    kitchen, bedroom, after_cut = sequence.segments
    assert kitchen.start_frame == 0 and kitchen.end_frame + 1 == bedroom.start_frame == 252
    assert bedroom.end_frame == 399 and after_cut.start_frame == 400 and after_cut.end_frame == 499
    assert kitchen.top3[0][0] == "kitchen" and kitchen.confidence > 0.5
    assert [ROOM_TYPES[i] for i in sequence.path] == ["kitchen"] * 21 + ["bedroom"] * 21
    for segment in sequence.segments:
        assert {int(sequence.path[i]) for i in segment.samples} == {ROOM_TYPES.index(segment.room)}


def test_room_labels_on_real_footage_keep_segments_inside_shots(short_clip: Path, tmp_path: Path) -> None:
    models = Models(device="cpu", batch_size=8, shots=ShotModel(resolve_shots(), "cpu"),
                    load_rooms=lambda: MobileNetRoomModel(resolve_rooms()[-1], "cpu"))
    result = decode_pass(models, DecodeSettings(), lambda line: None, short_clip, "short.mp4",
                         probe_video(short_clip, "short.mp4").to_dict(), tmp_path / "frames")
    [video] = shots_report([result], CutSettings(), "transnetv2", "cpu", 1.0, tmp_path).value["videos"]
    assert len(video["shots"]) > 5
    report = rooms_report([result], [video["shots"]], "mobilenet", "cpu", SequenceSettings(), 1.0, tmp_path,
                          "work/p/rooms", EvidenceSettings())
    segments = report.value["segments"]
    assert {s["shot"] for s in segments} == set(range(len(video["shots"])))
    for s in segments:
        start, end = video["shots"][s["shot"]]
        assert start <= s["start_frame"] <= s["end_frame"] <= end
        if s["end_frame"] < end:  # split inside a take: long enough, and the next segment goes on
            assert s["end_s"] - s["start_s"] >= DEFAULTS.min_dwell_s - 1e-6
    [entry] = report.value["videos"]
    sampled = result.decoded.sampled
    assert len(entry["path"]) == len(entry["sample_probs"]) == len(sampled)
    for s in segments:
        start, end = video["shots"][s["shot"]]
        assert all(entry["path"][i] == s["room"] for i in s["samples"] if start <= sampled[i].index <= end)
    held = {i for start, end in video["shots"] for i, sample in enumerate(sampled) if start <= sample.index <= end}
    assert all((entry["path"][i] is not None) == (i in held) for i in range(len(sampled)))
    assert report.value["sequence"] == {"switch_penalty": 6.0, "cut_switch_penalty": 1.0, "min_dwell_s": 3.0}
    picture = report.metadata["room_sequence"]
    assert isinstance(picture, Picture) and picture.fmt == "PNG"
    assert len(encode(picture.image, "PNG")) < 150_000 and picture.image.width == 960
    assert len(report.table) == len(segments)
