"""Choose the showcase clips: an edit decision list that fits the target duration.

Clips lie inside one labelled segment (and so inside one shot), keep a few frames away from the
cut, prefer high quality and a steady camera, skip near-duplicates by embedding similarity, and are
ordered by room. Every tie is broken by (video, start), so the same inputs give the same list.
"""

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from real_estate_dag.ops.rooms import ROOM_ORDER
from real_estate_dag.ops.timecode import first_frame_at, frame_end_time, frame_start_time, last_frame_before


@dataclass(frozen=True)
class SelectionParams:
    min_clip_s: float = 2.0
    max_clip_s: float = 6.0
    preferred_clip_s: float = 4.0
    cut_margin_frames: int = 2
    duplicate_similarity: float = 0.9
    other_room_penalty: float = 0.8
    title_s: float = 3.0
    crossfade_s: float = 0.5


@dataclass
class Candidate:
    """A segment that can hold a clip, with its per-sample scores and times."""

    video: str
    video_index: int
    shot: int
    segment: int
    room: str
    first_frame: int
    last_frame: int
    start_s: float
    end_s: float
    sample_times: np.ndarray
    sample_scores: np.ndarray
    sample_stability: np.ndarray
    embedding: np.ndarray
    frame_times: np.ndarray = field(repr=False)

    @property
    def available_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Clip:
    order: int
    video: str
    shot: int
    segment: int
    room: str
    in_frame: int
    out_frame: int  # inclusive
    in_s: float
    out_s: float
    duration_s: float
    score: float
    stability: float
    source: str = "video"  # "video", or "photo" for a photo clip (ops/photo_select.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    clips: tuple[Clip, ...]
    target_s: float
    showcase_s: float
    dropped_duplicates: int
    shortfall_s: float


def build_candidates(videos: list[tuple[str, np.ndarray, np.ndarray]], segments: list[dict[str, Any]],
                     quality_frames: list[dict[str, Any]]) -> list[Candidate]:
    """A candidate per room segment; ``videos`` are (name, frame times, sample embeddings) in upload order,
    ``segments`` room_labels' segments and ``quality_frames`` quality_scores' per-sample rows."""
    candidates = []
    for video_index, (name, times, embeddings) in enumerate(videos):
        frame_rows = [r for r in quality_frames if r["video"] == name]
        sample_times = np.array([r["time_s"] for r in frame_rows])
        scores = np.array([r["score"] for r in frame_rows])
        stability = np.array([r["stability"] for r in frame_rows])
        for segment_index, segment in enumerate(segments):
            if segment["video"] != name:
                continue
            samples = list(segment["samples"])
            embedding = embeddings[samples].mean(axis=0)
            candidates.append(Candidate(
                video=name, video_index=video_index, shot=segment["shot"],
                segment=segment_index, room=segment["room"],
                first_frame=segment["start_frame"], last_frame=segment["end_frame"],
                start_s=segment["start_s"], end_s=segment["end_s"],
                sample_times=sample_times[samples], sample_scores=scores[samples],
                sample_stability=stability[samples],
                embedding=embedding / (np.linalg.norm(embedding) + 1e-9), frame_times=times,
            ))
    return candidates


def clips_outside_shots(clips: list[dict[str, Any]], videos_shots: dict[str, list[list[int]]]) -> list[str]:
    """Descriptions of clips that do not lie inside exactly one of their video's shots."""
    return [
        f"clip {c['order']} ({c['video']} frames {c['in_frame']}-{c['out_frame']})"
        for c in clips
        if c.get("source", "video") == "video"
        and not any(s <= c["in_frame"] and c["out_frame"] <= e for s, e in videos_shots[c["video"]])
    ]


def showcase_length(clip_lengths: list[float], params: SelectionParams) -> float:
    """Length of title + clips joined by crossfades (each fade overlaps its neighbours)."""
    if not clip_lengths:
        return params.title_s
    return params.title_s + sum(clip_lengths) - params.crossfade_s * len(clip_lengths)


def _best_window(c: Candidate, length: float) -> tuple[float, float]:
    """Start time and mean score of the best-scoring window of ``length`` seconds in ``c``."""
    latest = c.end_s - length
    starts = np.unique(np.clip(np.concatenate([[c.start_s, latest], c.sample_times - length / 2]),
                               c.start_s, latest))
    best_start, best_score = c.start_s, -1.0
    for start in starts:
        inside = (c.sample_times >= start) & (c.sample_times <= start + length)
        score = float(c.sample_scores[inside].mean()) if inside.any() else float(c.sample_scores.mean())
        if score > best_score + 1e-9:
            best_start, best_score = float(start), score
    return best_start, best_score


def _value(c: Candidate, params: SelectionParams) -> float:
    _, score = _best_window(c, min(params.preferred_clip_s, c.available_s))
    return score * (params.other_room_penalty if c.room == "other" else 1.0)


def _fit_lengths(chosen: list[Candidate], target: float, params: SelectionParams) -> list[float]:
    """Clip lengths within [min, max] that bring the showcase as close to ``target`` as possible."""
    limits = [min(params.max_clip_s, c.available_s) for c in chosen]
    lengths = [min(params.preferred_clip_s, limit) for limit in limits]
    excess = showcase_length(lengths, params) - target
    # Weakest clips give or take time first; chosen is ordered best first.
    for i in reversed(range(len(chosen))):
        if abs(excess) < 1e-6:
            break
        bound = params.min_clip_s if excess > 0 else limits[i]
        change = min(abs(excess), abs(lengths[i] - bound))
        lengths[i] += -change if excess > 0 else change
        excess += -change if excess > 0 else change
    return lengths


def select_clips(candidates: list[Candidate], target_s: float, params: SelectionParams) -> Selection:
    margin_candidates = []
    for c in candidates:
        first, last = c.first_frame + params.cut_margin_frames, c.last_frame - params.cut_margin_frames
        if last <= first:
            continue
        trimmed = replace(
            c,
            first_frame=first,
            last_frame=last,
            start_s=frame_start_time(c.frame_times, first),
            end_s=frame_end_time(c.frame_times, last),
        )
        if trimmed.available_s >= params.min_clip_s:
            margin_candidates.append(trimmed)

    ranked = sorted(margin_candidates, key=lambda c: (-_value(c, params), c.video_index, c.start_s))
    chosen: list[Candidate] = []
    dropped = 0
    for c in ranked:
        if any(float(c.embedding @ k.embedding) > params.duplicate_similarity for k in chosen):
            dropped += 1
            continue
        chosen.append(c)
        at_min = showcase_length([params.min_clip_s] * len(chosen), params)
        at_preferred = showcase_length(
            [min(params.preferred_clip_s, k.available_s) for k in chosen], params
        )
        if at_preferred >= target_s or at_min >= target_s:
            break
    while len(chosen) > 1 and showcase_length([params.min_clip_s] * len(chosen), params) > target_s:
        chosen.pop()

    lengths = _fit_lengths(chosen, target_s, params)
    clips = []
    for c, length in zip(chosen, lengths, strict=True):
        start, score = _best_window(c, length)
        in_frame = first_frame_at(c.frame_times, start)
        out_time = start + length
        out_frame = max(in_frame, last_frame_before(c.frame_times, out_time))
        inside = (c.sample_times >= start) & (c.sample_times <= out_time)
        stable = float(c.sample_stability[inside].mean()) if inside.any() else float(c.sample_stability.mean())
        clips.append((c, Clip(0, c.video, c.shot, c.segment, c.room, in_frame, min(out_frame, c.last_frame),
                              round(start, 4), round(out_time, 4), round(length, 4), round(score, 4),
                              round(stable, 4))))
    clips.sort(key=lambda pair: (ROOM_ORDER.get(pair[1].room, len(ROOM_ORDER)), pair[0].video_index,
                                 pair[1].in_s))
    ordered = tuple(Clip(**{**clip.to_dict(), "order": i}) for i, (_, clip) in enumerate(clips))
    total = showcase_length([clip.duration_s for clip in ordered], params)
    return Selection(ordered, target_s, round(total, 3), dropped, round(max(0.0, target_s - total), 3))
