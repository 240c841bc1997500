"""Photos in the edit decision list: a photo-only showcase, or photos filling rooms footage lacks.

Footage is preferred: a room gets a photo clip only when no chosen video clip of that room scores at
least ``FOOTAGE_MIN`` (or there is no footage of it at all). A property without usable footage is shown
from its photos alone: the best photo of each room in tour order, then the next best of each, until
the target duration is reached. Every clip records its source and why it was chosen.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from real_estate_dag.ops.render import FPS
from real_estate_dag.ops.rooms import ROOM_ORDER
from real_estate_dag.ops.select import Candidate, Selection, SelectionParams, select_clips, showcase_length

FOOTAGE_MIN = 0.3  # a chosen video clip scoring less does not count as good footage of its room


@dataclass(frozen=True)
class Edit:
    clips: list[dict[str, Any]]
    showcase_s: float
    shortfall_s: float
    dropped_duplicates: int


def _room_rank(room: str) -> int:
    return ROOM_ORDER.get(room, len(ROOM_ORDER))


def photo_clip(row: dict[str, Any], duration_s: float, reason: str) -> dict[str, Any]:
    """An edit decision list entry for the photo ``row`` (a photo_analysis row) shown for ``duration_s``."""
    return {"order": 0, "video": row["file"], "shot": -1, "segment": -1, "room": row["room"], "in_frame": 0,
            "out_frame": max(0, round(duration_s * FPS) - 1), "in_s": 0.0, "out_s": round(duration_s, 4),
            "duration_s": round(duration_s, 4), "score": row["quality"], "stability": 1.0, "source": "photo",
            "reason": reason, "photo_key": row["enhanced_key"], "focus_x": row["focus"][0],
            "focus_y": row["focus"][1]}


def _ranked_photos(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The distinct photos (one per duplicate group) by room, best first; rooms in tour order."""
    by_room: dict[str, list[dict[str, Any]]] = {}
    for row in sorted((r for r in rows if r["distinct"]), key=lambda r: (_room_rank(r["room"]), -r["quality"])):
        by_room.setdefault(row["room"], []).append(row)
    return by_room


def photo_only(rows: list[dict[str, Any]], target_s: float, params: SelectionParams) -> Edit:
    """Photos alone: the best of each room, then the next best of each, until the target is filled."""
    by_room = _ranked_photos(rows)
    chosen: list[tuple[dict[str, Any], str]] = []
    depth = 0
    while showcase_length([params.preferred_clip_s] * len(chosen), params) < target_s:
        layer = [(photos[depth], room) for room, photos in by_room.items() if depth < len(photos)]
        if not layer:
            break
        for row, room in layer:
            why = f"best {room} photo" if depth == 0 else f"next-best {room} photo, to fill the target duration"
            chosen.append((row, f"photo-only property: {why} (quality {row['quality']:.2f})"))
            if showcase_length([params.preferred_clip_s] * len(chosen), params) >= target_s:
                break
        depth += 1
    if not chosen:
        return Edit([], params.title_s, round(target_s - params.title_s, 3), 0)
    length = min(params.max_clip_s, max(params.min_clip_s, (target_s - params.title_s) / len(chosen)
                                        + params.crossfade_s))
    rank = {id(row): i for i, (row, _) in enumerate(chosen)}
    ordered = sorted(chosen, key=lambda pair: (_room_rank(pair[0]["room"]), rank[id(pair[0])]))
    clips = [{**photo_clip(row, length, reason), "order": i} for i, (row, reason) in enumerate(ordered)]
    total = showcase_length([length] * len(clips), params)
    duplicates = sum(1 for r in rows if not r["distinct"])
    return Edit(clips, round(total, 3), round(max(0.0, target_s - total), 3), duplicates)


def _video_reason(clip: dict[str, Any]) -> str:
    return f"footage: best-scoring window of a {clip['room']} segment (score {clip['score']:.2f})"


def plan_edit(candidates: list[Candidate], rows: list[dict[str, Any]], target_s: float,
              params: SelectionParams,
              select: Callable[[list[Candidate], float, SelectionParams], Selection] = select_clips) -> Edit:
    """The edit of footage ``candidates`` and photo_analysis ``rows``: footage first, photos for the rooms
    without good footage, photos alone when no footage is usable."""
    first = select(candidates, target_s, params)
    if not first.clips:
        return photo_only(rows, target_s, params)
    best_footage = {room: max(c.score for c in first.clips if c.room == room)
                    for room in {c.room for c in first.clips}}
    length = min(params.preferred_clip_s, params.max_clip_s)
    fills = []
    for room, photos in _ranked_photos(rows).items():
        if best_footage.get(room, 0.0) >= FOOTAGE_MIN:
            continue
        why = (f"no {room} footage" if room not in best_footage else
               f"{room} footage scores {best_footage[room]:.2f} < {FOOTAGE_MIN}")
        fills.append((photos[0], f"photo: {why}; best {room} photo (quality {photos[0]['quality']:.2f})"))
    if not fills:
        selection = first
    else:
        photo_s = sum(length - params.crossfade_s for _ in fills)
        selection = select(candidates, max(params.title_s + params.min_clip_s, target_s - photo_s), params)
    clips = [{**c.to_dict(), "reason": _video_reason(c.to_dict())} for c in selection.clips]
    if fills:
        clips += [photo_clip(row, length, reason) for row, reason in fills]
    clips.sort(key=lambda c: (_room_rank(c["room"]), c["source"] != "video", c["order"]))
    clips = [{**c, "order": i} for i, c in enumerate(clips)]
    total = showcase_length([c["duration_s"] for c in clips], params)
    duplicates = selection.dropped_duplicates + sum(1 for r in rows if not r["distinct"])
    return Edit(clips, round(total, 3), round(max(0.0, target_s - total), 3), duplicates)
