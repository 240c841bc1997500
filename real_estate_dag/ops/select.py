"""Choose the showcase clips: an edit decision list that fits the target duration.

Clips lie inside one labelled segment (and so inside one shot), keep a few frames away from the
cut, prefer high quality and a steady camera, skip near-duplicates by embedding similarity, and are
ordered by room. Every tie is broken by (video, start), so the same inputs give the same list.

With music, the cuts (the middle of each crossfade) move to the nearest beat, or bar, where the
clip's new window still lies inside its segment and keeps its quality; the title card ends and the
showcase ends on the grid too. A clip that cannot move keeps its length and the next cut goes back
onto the grid.

With narration, a window loses score for the words of the sentences it cuts, its in and out points
move into pauses (never inside a word), and it is not moved onto the beat: the agent's words win.
"""

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from real_estate_dag.ops.beats import MusicBeats
from real_estate_dag.ops.render import FPS
from real_estate_dag.ops.rooms import ROOM_ORDER
from real_estate_dag.ops.speech import Segment, Transcript, Word, sentences_cut, snap_window
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
    closing_s: float = 0.0  # the closing card; 0: none
    min_tempo_confidence: float = 0.3  # below it the beat grid is not trusted and cuts stay where they are
    beat_quality_keep: float = 0.9  # a clip moved onto the beat keeps at least this share of its window's score
    sentence_penalty: float = 0.5  # score lost by a window that cuts every word it holds out of their sentences


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
    words: tuple[Word, ...] = field(default=(), repr=False)  # the video's narration, if any
    sentences: tuple[Segment, ...] = field(default=(), repr=False)

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
    showcase_in_s: float = 0.0  # where the clip starts and ends on the showcase's time line
    showcase_out_s: float = 0.0
    source: str = "video"  # "video", or "photo" (ops/photo_select.py): ``video`` then names the photo file
    reason: str = ""  # why the edit chose it
    photo_key: str = ""  # a photo clip's corrected photo in the store
    focus: tuple[float, float] = (0.5, 0.5)  # a photo clip's focus point, as shares of its width and height
    caption: str = ""  # a photo clip's caption from the manifest, drawn as its lower third

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    clips: tuple[Clip, ...]
    target_s: float
    showcase_s: float
    dropped_duplicates: int
    shortfall_s: float
    title_s: float = 3.0
    closing_s: float = 0.0
    cuts_s: tuple[float, ...] = ()  # the middle of each crossfade, and the end
    cut_offsets_s: tuple[float, ...] = ()  # each cut's distance from its nearest beat (empty without beats)


def build_candidates(videos: list[tuple[str, np.ndarray, np.ndarray]], segments: list[dict[str, Any]],
                     quality_frames: list[dict[str, Any]],
                     transcripts: dict[str, Transcript] | None = None) -> list[Candidate]:
    """A candidate per room segment; ``videos`` are (name, frame times, sample embeddings) in upload order,
    ``segments`` room_labels' segments, ``quality_frames`` quality_scores' per-sample rows and
    ``transcripts`` each narrated video's words."""
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
                words=tuple(transcripts[name].words) if transcripts and name in transcripts else (),
                sentences=transcripts[name].segments if transcripts and name in transcripts else (),
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


def showcase_length(clip_lengths: list[float], params: SelectionParams, title_s: float | None = None,
                    closing_s: float | None = None) -> float:
    """Length of title + clips (+ closing card) joined by crossfades (each fade overlaps its neighbours)."""
    title = params.title_s if title_s is None else title_s
    closing = params.closing_s if closing_s is None else closing_s
    items = [title, *clip_lengths, *([closing] if closing > 0 else [])]
    return sum(items) - params.crossfade_s * (len(items) - 1)


def _best_window(c: Candidate, length: float, params: SelectionParams | None = None) -> tuple[float, float]:
    """Start time and score of the best window of ``length`` seconds in ``c``: the mean sample score,
    less ``_speech_penalty`` where the video is narrated."""
    latest = c.end_s - length
    speech = [t for s in c.sentences for t in (s.start - 0.15, s.end + 0.15 - length)]
    starts = np.unique(np.clip(np.concatenate([[c.start_s, latest], c.sample_times - length / 2, speech]),
                               c.start_s, latest))
    best_start, best_score = c.start_s, -1e9
    for start in starts:
        inside = (c.sample_times >= start) & (c.sample_times <= start + length)
        score = float(c.sample_scores[inside].mean()) if inside.any() else float(c.sample_scores.mean())
        score -= _speech_penalty(c, float(start), length, params)
        if score > best_score + 1e-9:
            best_start, best_score = float(start), score
    return best_start, best_score


def _speech_penalty(c: Candidate, start: float, length: float, params: SelectionParams | None) -> float:
    """``sentence_penalty`` times the share of the window's sentence words that it cuts off."""
    if not c.sentences or params is None:
        return 0.0
    lost = sentences_cut(start, start + length, c.sentences)
    kept = sum(start <= (w.start + w.end) / 2 <= start + length for w in c.words)
    return params.sentence_penalty * lost / max(1, lost + kept)


def _window_score(c: Candidate, start: float, length: float) -> float:
    inside = (c.sample_times >= start) & (c.sample_times <= start + length)
    return float(c.sample_scores[inside].mean()) if inside.any() else float(c.sample_scores.mean())


def _moved_window(c: Candidate, clip: Clip, length: float, keep: float) -> tuple[float, float] | None:
    """Start and score of a ``length`` window in ``c`` centred where ``clip`` was, or None when it does
    not fit inside the segment or loses more than ``keep`` of the clip's score."""
    if length > c.available_s + 1e-9:
        return None
    start = min(max(clip.in_s + (clip.duration_s - length) / 2, c.start_s), c.end_s - length)
    score = _window_score(c, start, length)
    return (start, score) if score >= keep * clip.score - 1e-9 else None


def _nearest(grid: np.ndarray, t: float, count: int = 2) -> list[float]:
    return [float(g) for g in grid[np.argsort(np.abs(grid - t), kind="stable")[:count]]]


def _clip_at(c: Candidate, clip: Clip, start: float, length: float, score: float) -> Clip:
    in_frame = first_frame_at(c.frame_times, start)
    out_frame = max(in_frame, last_frame_before(c.frame_times, start + length))
    inside = (c.sample_times >= start) & (c.sample_times <= start + length)
    stable = float(c.sample_stability[inside].mean()) if inside.any() else float(c.sample_stability.mean())
    return replace(clip, in_frame=in_frame, out_frame=min(out_frame, c.last_frame), in_s=round(start, 4),
                   out_s=round(start + length, 4), duration_s=round(length, 4), score=round(score, 4),
                   stability=round(stable, 4))


def photo_for(clip: Clip, length: float) -> Clip:
    """A photo clip shown for ``length`` seconds."""
    return replace(clip, out_frame=max(0, round(length * FPS) - 1), out_s=round(length, 4),
                   duration_s=round(length, 4))


def place_on_time_line(pairs: list[tuple[Candidate | None, Clip]], params: SelectionParams, beats: MusicBeats | None
                       ) -> tuple[list[Clip], float, float, list[float]]:
    """Clips (moved onto the beat grid where they can be) with their showcase times, the title and
    closing card lengths, and the cuts: each crossfade's middle, then the end. A photo clip has no
    candidate (None)."""
    fade = params.crossfade_s
    grid = np.array(beats.beats_s if beats else ())
    bars = np.array(beats.downbeats_s if beats else ())
    snap = beats is not None and len(grid) >= 4 and beats.tempo_confidence >= params.min_tempo_confidence
    bar_s = beats.beat_s * beats.beats_per_bar if beats else 0.0
    use_bars = snap and params.min_clip_s <= bar_s + fade <= params.max_clip_s

    def on_grid(raw: float, low: float, high: float, from_bar: bool) -> float | None:
        """The grid point nearest ``raw`` within [low, high]: a bar first when whole bars fit, else a beat."""
        options = (_nearest(bars, raw) if use_bars and from_bar else []) + _nearest(grid, raw)
        return next((t for t in sorted(options, key=lambda t: (t not in bars or not from_bar, abs(t - raw)))
                     if low - 1e-6 <= t <= high + 1e-6), None)

    def frame_cut(t: float) -> float:
        """``t`` moved by under half a frame so that the crossfade around it starts on a frame."""
        return round((t - fade / 2) * FPS) / FPS + fade / 2

    def whole_frames(length: float) -> float:
        """The longest whole number of frames within ``length``: the render cuts on frames."""
        return math.floor(length * FPS + 1e-6) / FPS

    title = params.title_s
    cut = title - fade / 2
    if snap and (moved := on_grid(cut, fade / 2, 2 * title, True)) is not None:
        cut = frame_cut(moved)
        title = cut + fade / 2
    clips, cuts = [], [cut]
    closing = params.closing_s
    for k, (c, clip) in enumerate(pairs):
        last = k == len(pairs) - 1 and closing <= 0
        tail = fade / 2 if last else fade  # the last clip ends the showcase without a fade
        raw = cut + clip.duration_s - tail
        placed = clip
        on_bar = bool(len(bars)) and float(np.abs(bars - cut).min()) < 1 / FPS
        if snap and (c is None or not c.words):  # a narrated clip keeps its pause-snapped window
            low, high = cut + params.min_clip_s - tail, cut + params.max_clip_s - tail
            for target in dict.fromkeys(t for t in [on_grid(raw, low, high, on_bar or not use_bars),
                                                     on_grid(raw, low, high, False)] if t is not None):
                end = round(target * FPS) / FPS if last else frame_cut(target)
                if c is None:  # a photo has no window to keep inside: any length fits
                    placed = photo_for(clip, end - cut + tail)
                    break
                moved = _moved_window(c, clip, end - cut + tail, params.beat_quality_keep)
                if moved is not None:
                    placed = _clip_at(c, clip, moved[0], end - cut + tail, moved[1])
                    break
        if placed is clip and whole_frames(clip.duration_s) != clip.duration_s:
            placed = photo_for(clip, whole_frames(clip.duration_s)) if c is None else \
                _clip_at(c, clip, clip.in_s, whole_frames(clip.duration_s), clip.score)
        start = cut - fade / 2
        clips.append(replace(placed, showcase_in_s=round(start, 4), showcase_out_s=round(start + placed.duration_s, 4)))
        cut = start + placed.duration_s - (0.0 if last else fade / 2)
        cuts.append(cut)
    if closing > 0:
        raw_end = cut + closing - fade / 2
        if snap and (end := on_grid(raw_end, cut + fade, cut + 2 * closing, True)) is not None:
            closing = round(end * FPS) / FPS - cut + fade / 2
        cuts.append(cut + closing - fade / 2)
    return clips, round(title, 4), round(closing, 4), [round(t, 4) for t in cuts]


def _value(c: Candidate, params: SelectionParams) -> float:
    _, score = _best_window(c, min(params.preferred_clip_s, c.available_s), params)
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


def select_clips(candidates: list[Candidate], target_s: float, params: SelectionParams,
                 beats: MusicBeats | None = None) -> Selection:
    pairs, dropped = choose_clips(candidates, target_s, params)
    return timed_selection(pairs, target_s, params, beats, dropped)


def choose_clips(candidates: list[Candidate], target_s: float, params: SelectionParams
                 ) -> tuple[list[tuple[Candidate, Clip]], int]:
    """The clips for ``target_s`` in room order with their candidates, and how many near-duplicates
    were dropped."""
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
        start, score = _best_window(c, length, params)
        start, out_time = snap_window(start, start + length, c.words, c.start_s, c.end_s)
        length = out_time - start
        in_frame = first_frame_at(c.frame_times, start)
        out_frame = max(in_frame, last_frame_before(c.frame_times, out_time))
        inside = (c.sample_times >= start) & (c.sample_times <= out_time)
        stable = float(c.sample_stability[inside].mean()) if inside.any() else float(c.sample_stability.mean())
        clips.append((c, Clip(0, c.video, c.shot, c.segment, c.room, in_frame, min(out_frame, c.last_frame),
                              round(start, 4), round(out_time, 4), round(length, 4), round(score, 4),
                              round(stable, 4),
                              reason=f"footage: best-scoring window of a {c.room} segment (score {score:.2f})")))
    clips.sort(key=lambda pair: (ROOM_ORDER.get(pair[1].room, len(ROOM_ORDER)), pair[0].video_index,
                                 pair[1].in_s))
    return [(c, replace(clip, order=i)) for i, (c, clip) in enumerate(clips)], dropped


def timed_selection(pairs: list[tuple[Candidate | None, Clip]], target_s: float, params: SelectionParams,
                    beats: MusicBeats | None, dropped: int) -> Selection:
    """The selection of ``pairs`` (in showcase order) placed on the time line."""
    ordered, title, closing, cuts = place_on_time_line(pairs, params, beats)
    total = showcase_length([clip.duration_s for clip in ordered], params, title, closing)
    offsets = []
    if beats is not None and beats.beats_s:
        grid = np.array(beats.beats_s)
        offsets = [round(float(np.abs(grid - t).min()), 4) for t in cuts]
    return Selection(tuple(ordered), target_s, round(total, 3), dropped, round(max(0.0, target_s - total), 3),
                     title, closing, tuple(cuts), tuple(offsets))
