"""Photos in the edit decision list: a photo-only showcase, or photos filling rooms footage lacks.

Footage is preferred: a room gets a photo clip only when no chosen video clip of that room scores at
least ``FOOTAGE_MIN`` (or there is no footage of it at all). A property without usable footage is shown
from its photos alone: the best photo of each room in tour order, then the next best of each, until
the target duration is reached. Every clip records its source and why it was chosen; photo clips go on
the time line (and the beat grid) with the footage.
"""

from dataclasses import replace
from typing import Any

from real_estate_dag.ops.beats import MusicBeats
from real_estate_dag.ops.render import FPS
from real_estate_dag.ops.rooms import ROOM_ORDER
from real_estate_dag.ops.select import (
    Candidate,
    Clip,
    Selection,
    SelectionParams,
    choose_clips,
    showcase_length,
    timed_selection,
)

FOOTAGE_MIN = 0.3  # a chosen video clip scoring less does not count as good footage of its room


def _room_rank(room: str) -> int:
    return ROOM_ORDER.get(room, len(ROOM_ORDER))


def photo_clip(row: dict[str, Any], duration_s: float, reason: str) -> Clip:
    """An edit decision list entry for the photo ``row`` (a photo_analysis row) shown for ``duration_s``."""
    return Clip(0, row["file"], -1, -1, row["room"], 0, max(0, round(duration_s * FPS) - 1), 0.0,
                round(duration_s, 4), round(duration_s, 4), row["quality"], 1.0, source="photo", reason=reason,
                photo_key=row["enhanced_key"], focus=tuple(row["focus"]), caption=row.get("caption", ""))


def _ranked_photos(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The distinct photos (one per duplicate group) by room, best first; rooms in tour order."""
    by_room: dict[str, list[dict[str, Any]]] = {}
    for row in sorted((r for r in rows if r["distinct"]), key=lambda r: (_room_rank(r["room"]), -r["quality"])):
        by_room.setdefault(row["room"], []).append(row)
    return by_room


def photo_only(rows: list[dict[str, Any]], target_s: float, params: SelectionParams) -> list[Clip]:
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
        return []
    items = len(chosen) + (1 if params.closing_s > 0 else 0)
    length = min(params.max_clip_s, max(params.min_clip_s, (target_s - params.title_s - params.closing_s) / len(chosen)
                                        + params.crossfade_s * items / len(chosen)))
    rank = {id(row): i for i, (row, _) in enumerate(chosen)}
    ordered = sorted(chosen, key=lambda pair: (_room_rank(pair[0]["room"]), rank[id(pair[0])]))
    return [photo_clip(row, length, reason) for row, reason in ordered]


def plan_edit(candidates: list[Candidate], rows: list[dict[str, Any]], target_s: float,
              params: SelectionParams, beats: MusicBeats | None = None) -> Selection:
    """The edit of footage ``candidates`` and photo_analysis ``rows``: footage first, photos for the rooms
    without good footage, photos alone when no footage is usable; placed on the time line."""
    duplicates = sum(1 for r in rows if not r["distinct"])
    pairs, dropped = choose_clips(candidates, target_s, params)
    if not pairs:
        photos = photo_only(rows, target_s, params)
        return timed_selection([(None, clip) for clip in photos], target_s, params, beats, duplicates)
    best_footage: dict[str, float] = {}
    for _, clip in pairs:
        best_footage[clip.room] = max(best_footage.get(clip.room, 0.0), clip.score)
    length = min(params.preferred_clip_s, params.max_clip_s)
    fills = []
    for room, photos in _ranked_photos(rows).items():
        if best_footage.get(room, 0.0) >= FOOTAGE_MIN:
            continue
        why = (f"no {room} footage" if room not in best_footage else
               f"{room} footage scores {best_footage[room]:.2f} < {FOOTAGE_MIN}")
        fills.append(photo_clip(photos[0], length, f"photo: {why}; best {room} photo "
                                                   f"(quality {photos[0]['quality']:.2f})"))
    if fills:
        photo_s = sum(length - params.crossfade_s for _ in fills)
        pairs, dropped = choose_clips(candidates, max(params.title_s + params.min_clip_s, target_s - photo_s), params)
    combined: list[tuple[Candidate | None, Clip]] = [*pairs, *((None, clip) for clip in fills)]
    combined.sort(key=lambda pair: (_room_rank(pair[1].room), pair[1].source != "video", pair[1].order))
    ordered = [(c, replace(clip, order=i)) for i, (c, clip) in enumerate(combined)]
    return timed_selection(ordered, target_s, params, beats, dropped + duplicates)
