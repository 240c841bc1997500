"""Room labels for shots: per sampled frame probabilities -> labelled segments.

A segment is a shot, split further where the smoothed room label changes inside a long take
(a walkthrough often crosses several rooms without a cut).
"""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from real_estate_dag.ops.signal import moving_average
from real_estate_dag.ops.timecode import frame_end_time, frame_start_time

# Showcase order; "other" (halls, stairs, unrecognised) is used only to fill time.
ROOM_TYPES = (
    "exterior", "living_room", "kitchen", "dining_room", "bedroom", "bathroom", "outdoor", "other",
)
ROOM_ORDER = {room: i for i, room in enumerate(
    ("exterior", "living_room", "kitchen", "dining_room", "bedroom", "bathroom", "other", "outdoor")
)}


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


def smooth_labels(probs: np.ndarray, window: int) -> np.ndarray:
    """Per-sample argmax of the room probabilities averaged over a centred window."""
    if len(probs) == 0:
        return np.zeros(0, dtype=np.int64)
    return moving_average(probs, window).argmax(axis=1)


def label_segments(
    video: str,
    shots: list[tuple[int, int]],
    frame_times: np.ndarray,
    sample_frames: np.ndarray,
    sample_probs: np.ndarray,
    rooms: tuple[str, ...] = ROOM_TYPES,
    *,
    min_segment_s: float = 2.0,
    smoothing_window: int = 3,
) -> list[Segment]:
    """Label each shot, splitting it where the room changes for at least ``min_segment_s``.

    ``sample_frames`` are the frame indices of the sampled frames and ``sample_probs`` their room
    probabilities (one row per sample, columns in ``rooms`` order).
    """
    segments: list[Segment] = []
    for shot_index, (start, end) in enumerate(shots):
        inside = np.flatnonzero((sample_frames >= start) & (sample_frames <= end))
        if len(inside) == 0:
            # A shot shorter than the sampling interval: label it from the nearest sample.
            nearest = int(np.abs(sample_frames - (start + end) / 2).argmin())
            inside = np.array([nearest])
        labels = smooth_labels(sample_probs[inside], smoothing_window)
        runs = _merge_short_runs(_runs(labels), sample_frames[inside], frame_times, min_segment_s)
        for run_start, run_end in runs:
            members = inside[run_start:run_end]
            seg_start = start if run_start == 0 else int(sample_frames[members[0]])
            seg_end = end if run_end == len(inside) else int(sample_frames[inside[run_end]]) - 1
            mean = sample_probs[members].mean(axis=0)
            order = np.argsort(-mean)
            segments.append(
                Segment(
                    video=video,
                    shot=shot_index,
                    start_frame=seg_start,
                    end_frame=seg_end,
                    start_s=round(frame_start_time(frame_times, seg_start), 3),
                    end_s=round(frame_end_time(frame_times, seg_end), 3),
                    room=rooms[order[0]],
                    confidence=round(float(mean[order[0]]), 4),
                    top3=tuple((rooms[i], round(float(mean[i]), 4)) for i in order[:3]),
                    samples=tuple(int(i) for i in members),
                )
            )
    return segments


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end_exclusive, label) for each run of equal labels."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i, int(labels[start])))
            start = i
    return runs


def _merge_short_runs(
    runs: list[tuple[int, int, int]], frames: np.ndarray, frame_times: np.ndarray, min_s: float
) -> list[tuple[int, int]]:
    """Fold runs shorter than ``min_s`` seconds into the previous run (or the next, at the start)."""
    def seconds(run: tuple[int, int, int]) -> float:
        last = frames[run[1]] if run[1] < len(frames) else frames[run[1] - 1]
        return float(frame_times[last] - frame_times[frames[run[0]]])

    merged: list[tuple[int, int, int]] = []
    for run in runs:
        if merged and (seconds(run) < min_s or merged[-1][2] == run[2]):
            merged[-1] = (merged[-1][0], run[1], merged[-1][2])
        elif merged and seconds(merged[-1]) < min_s:
            merged[-1] = (merged[-1][0], run[1], run[2])
        else:
            merged.append(run)
    return [(start, end) for start, end, _ in merged]
