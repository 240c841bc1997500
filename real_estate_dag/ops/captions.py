"""Chapters and room captions from the edit decision list: WebVTT chapters, an SRT of the rooms and a
YouTube-style chapter list (``0:00 Intro``), all on the showcase's time line."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Chapter:
    start_s: float
    end_s: float
    title: str


def room_title(room: str) -> str:
    """"living_room" -> "Living room"."""
    text = room.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def room_spans(clips: list[dict[str, Any]]) -> list[Chapter]:
    """One span per run of consecutive clips of the same room, from its first clip's start on the
    showcase to its last clip's end."""
    spans: list[Chapter] = []
    for clip in sorted(clips, key=lambda c: c["order"]):
        title = room_title(clip["room"])
        if spans and spans[-1].title == title:
            spans[-1] = Chapter(spans[-1].start_s, clip["showcase_out_s"], title)
        else:
            spans.append(Chapter(clip["showcase_in_s"], clip["showcase_out_s"], title))
    return spans


def chapters(clips: list[dict[str, Any]], total_s: float, title: str = "Intro",
             closing: str = "Contact") -> list[Chapter]:
    """Chapters that tile [0, total_s]: the title card, each room (a chapter runs until the next one
    starts) and the closing card when the showcase ends after the last clip."""
    rooms = room_spans(clips)
    starts = [0.0, *(r.start_s for r in rooms)]
    titles = [title, *(r.title for r in rooms)]
    last_clip_end = max((c["showcase_out_s"] for c in clips), default=0.0)
    if total_s - last_clip_end > 0.25:
        starts.append(last_clip_end)
        titles.append(closing)
    ends = [*starts[1:], total_s]
    return [Chapter(round(s, 3), round(e, 3), t) for s, e, t in zip(starts, ends, titles, strict=True) if e > s]


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def webvtt(entries: list[Chapter]) -> str:
    cues = [f"{i}\n{_timestamp(c.start_s, '.')} --> {_timestamp(c.end_s, '.')}\n{c.title}\n"
            for i, c in enumerate(entries, start=1)]
    return "WEBVTT\n\n" + "\n".join(cues)


def srt(entries: list[Chapter]) -> str:
    return "\n".join(f"{i}\n{_timestamp(c.start_s, ',')} --> {_timestamp(c.end_s, ',')}\n{c.title}\n"
                     for i, c in enumerate(entries, start=1))


def youtube_chapters(entries: list[Chapter]) -> str:
    """``M:SS Title`` lines, as a video description lists chapters."""
    def stamp(seconds: float) -> str:
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"

    return "\n".join(f"{stamp(c.start_s)} {c.title}" for c in entries)
