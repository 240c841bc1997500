"""Room labels for shots: per sampled frame probabilities -> a room sequence -> labelled segments.

In a continuous take the room changes only when the camera goes through a doorway and stays, so the
rooms of a video's sampled frames are chosen together, as the most likely path of a duration-aware
hidden Markov model: each frame's room log-probability is its evidence, every change of room inside a
take costs ``switch_penalty``, a change at a cut (which may well change the room) ``cut_switch_penalty``,
and no room is held for less than ``min_dwell_s`` inside a take unless it fills the whole shot.
A segment is a run of that path inside one shot (a segment never crosses a cut).
"""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from real_estate_dag.ops.timecode import EPSILON_S, frame_end_time, frame_start_time

# Showcase order; "other" (halls, stairs, unrecognised) is used only to fill time.
ROOM_TYPES = (
    "exterior", "living_room", "kitchen", "dining_room", "bedroom", "bathroom", "outdoor", "other",
)
ROOM_ORDER = {room: i for i, room in enumerate(
    ("exterior", "living_room", "kitchen", "dining_room", "bedroom", "bathroom", "other", "outdoor")
)}
# Probabilities are floored here before the log, so one frame the model is sure about cannot outweigh
# any number of switch penalties.
PROBABILITY_FLOOR = 1e-4
# Path scores closer than this count as equal (sums along different paths round differently).
SCORE_TIE = 1e-9


@dataclass(frozen=True)
class SequenceSettings:
    switch_penalty: float = 6.0  # log-probability a change of room inside a take costs
    cut_switch_penalty: float = 1.0  # ... and at a cut
    min_dwell_s: float = 3.0  # shortest run of one room inside a take, unless it is the whole shot

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value >= 0:
                raise ValueError(f"room sequence setting {name!r} must be a number at least 0, not {value}")


@dataclass(frozen=True)
class Segment:
    video: str
    shot: int
    start_frame: int
    end_frame: int  # inclusive
    start_s: float
    end_s: float
    room: str
    confidence: float
    top3: tuple[tuple[str, float], ...]
    samples: tuple[int, ...]  # indices into the video's sampled frames

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoomSequence:
    """One video's labels: its segments and, per sampled frame, the room index of the chosen path
    (-1 for a frame inside a transition between shots, which no shot holds)."""

    segments: list[Segment]
    path: np.ndarray


def room_path(log_evidence: np.ndarray, shot: np.ndarray, start_s: np.ndarray, end_s: np.ndarray,
              settings: SequenceSettings) -> np.ndarray:
    """The most likely room index of each of N frames (Viterbi over runs of one room).

    ``log_evidence`` (N, K) holds each frame's room log-probabilities, ``shot`` (N,) the shot of each
    frame (non-decreasing), and frame i covers ``[start_s[i], end_s[i])`` seconds, so a run of frames
    u..t lasts ``end_s[t] - start_s[u]``. Maximises the summed evidence less the switch penalties, with
    every run inside a shot at least ``min_dwell_s`` long unless it is the whole shot. Of equally good
    paths it takes the one with fewer changes of room, then the longer earlier runs, then the lower
    room index.
    """
    n, k = log_evidence.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cumulative = np.vstack([np.zeros(k), np.cumsum(log_evidence, axis=0)])
    opens = np.r_[True, shot[1:] != shot[:-1]]
    closes = np.r_[shot[1:] != shot[:-1], True]
    change = ~np.eye(k, dtype=bool)  # [from, to]
    inside = np.where(change, -settings.switch_penalty, -np.inf)  # a run is never followed by its own room
    at_cut = np.where(change, -settings.cut_switch_penalty, 0.0)
    rooms = np.arange(k)
    # for a run of room k ending at frame t: the best score of frames 0..t, its number of changes of
    # room and where the run starts
    best, changes = np.full((n, k), -np.inf), np.zeros((n, k), dtype=np.int64)
    run_start = np.zeros((n, k), dtype=np.int64)
    # for a run of room k starting at frame u: the best score before it less cumulative[u], its number
    # of changes and the room of the run before it
    entry, entry_changes = np.full((n, k), -np.inf), np.zeros((n, k), dtype=np.int64)
    before = np.zeros((n, k), dtype=np.int64)
    shot_start = pointer = 0
    run_max, run_changes, run_arg = np.full(k, -np.inf), np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)
    for t in range(n):
        if opens[t]:
            shot_start = pointer = t
            run_max, run_changes, run_arg = np.full(k, -np.inf), np.zeros(k, dtype=np.int64), np.full(k, t)
        if t == 0:
            entry[t], before[t] = 0.0, rooms
        else:
            scores = best[t - 1][:, None] + (at_cut if opens[t] else inside)
            counts = changes[t - 1][:, None] + change
            before[t] = _best(scores, counts)
            entry[t] = scores[before[t], rooms] - cumulative[t]
            entry_changes[t] = counts[before[t], rooms]
        while pointer <= t and end_s[t] - start_s[pointer] >= settings.min_dwell_s - EPSILON_S:
            score = entry[pointer]
            better = (score > run_max + SCORE_TIE) | (
                (score >= run_max - SCORE_TIE) & (entry_changes[pointer] < run_changes))
            run_max[better], run_changes[better], run_arg[better] = (
                entry[pointer][better], entry_changes[pointer][better], pointer)
            pointer += 1
        if pointer > shot_start:
            best[t], changes[t], run_start[t] = run_max + cumulative[t + 1], run_changes, run_arg
        elif closes[t]:  # a shot shorter than the dwell minimum: one room for all of it
            best[t], changes[t] = entry[shot_start] + cumulative[t + 1], entry_changes[shot_start]
            run_start[t] = shot_start
    path = np.empty(n, dtype=np.int64)
    t, room = n - 1, int(_best(best[n - 1][:, None], changes[n - 1][:, None])[0])
    while t >= 0:
        u = int(run_start[t, room])
        path[u : t + 1] = room
        t, room = u - 1, int(before[u, room])
    return path


def _best(scores: np.ndarray, changes: np.ndarray) -> np.ndarray:
    """Per column, the row of the highest score; of equal scores the fewest changes, then the first row."""
    tied = scores >= scores.max(axis=0) - SCORE_TIE
    return np.where(tied, changes, np.iinfo(np.int64).max).argmin(axis=0)


def label_segments(
    video: str,
    shots: list[tuple[int, int]],
    frame_times: np.ndarray,
    sample_frames: np.ndarray,
    sample_probs: np.ndarray,
    rooms: tuple[str, ...] = ROOM_TYPES,
    settings: SequenceSettings = SequenceSettings(),
) -> RoomSequence:
    """Label each shot by the video's room path, split where the path changes room.

    ``sample_frames`` are the frame indices of the sampled frames and ``sample_probs`` their room
    probabilities (one row per sample, columns in ``rooms`` order).
    """
    members = []  # per shot, the samples that label it
    for start, end in shots:
        inside = np.flatnonzero((sample_frames >= start) & (sample_frames <= end))
        if len(inside) == 0:
            # A shot shorter than the sampling interval: label it from the nearest sample.
            inside = np.array([int(np.abs(sample_frames - (start + end) / 2).argmin())])
        members.append(inside)
    order = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
    shot_of = np.concatenate([np.full(len(m), i) for i, m in enumerate(members)]) if members else order
    start_s, end_s = np.empty(len(order)), np.empty(len(order))
    offset = 0
    for (start, end), inside in zip(shots, members, strict=True):
        times = frame_times[sample_frames[inside]]
        start_s[offset : offset + len(inside)] = np.r_[frame_start_time(frame_times, start), times[1:]]
        end_s[offset : offset + len(inside)] = np.r_[times[1:], frame_end_time(frame_times, end)]
        offset += len(inside)
    evidence = np.log(np.maximum(sample_probs[order], PROBABILITY_FLOOR))
    chosen = room_path(evidence, shot_of, start_s, end_s, settings)
    path = np.full(len(sample_frames), -1, dtype=np.int64)
    segments: list[Segment] = []
    offset = 0
    for shot_index, ((start, end), inside) in enumerate(zip(shots, members, strict=True)):
        labels = chosen[offset : offset + len(inside)]
        offset += len(inside)
        held = (sample_frames[inside] >= start) & (sample_frames[inside] <= end)
        path[inside[held]] = labels[held]
        for run_start, run_end, room in _runs(labels):
            run = inside[run_start:run_end]
            seg_start = start if run_start == 0 else int(sample_frames[run[0]])
            seg_end = end if run_end == len(inside) else int(sample_frames[inside[run_end]]) - 1
            mean = sample_probs[run].mean(axis=0)
            top = np.argsort(-mean, kind="stable")
            segments.append(
                Segment(
                    video=video,
                    shot=shot_index,
                    start_frame=seg_start,
                    end_frame=seg_end,
                    start_s=round(frame_start_time(frame_times, seg_start), 3),
                    end_s=round(frame_end_time(frame_times, seg_end), 3),
                    room=rooms[room],
                    confidence=round(float(mean[room]), 4),
                    top3=tuple((rooms[i], round(float(mean[i]), 4)) for i in top[:3]),
                    samples=tuple(int(i) for i in run),
                )
            )
    return RoomSequence(segments, path)


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end_exclusive, label) for each run of equal labels."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i, int(labels[start])))
            start = i
    return runs
