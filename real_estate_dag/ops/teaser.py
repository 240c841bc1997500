"""The teaser: the strongest clips of the edit, in showcase order, about ``TEASER_S`` long.

Its clips are the showcase's clips with the same in and out points, so their bodies are the pieces
the showcase already encoded; only the short black lead-in, the ending and the crossfades between
clips that were not neighbours are new.
"""

from typing import Any

TEASER_S = 15.0


def teaser_length(clip_lengths: list[float], lead_s: float, crossfade_s: float) -> float:
    items = [lead_s, *clip_lengths, lead_s]
    return sum(items) - crossfade_s * (len(items) - 1)


def teaser_clips(clips: list[dict[str, Any]], lead_s: float, crossfade_s: float,
                 length_s: float = TEASER_S) -> list[dict[str, Any]]:
    """The highest-scoring clips (ties: showcase order) whose teaser stays within ``length_s`` + 10%,
    at least one, back in showcase order."""
    chosen: list[dict[str, Any]] = []
    for clip in sorted(clips, key=lambda c: (-c["score"], c["order"])):
        lengths = [c["duration_s"] for c in [*chosen, clip]]
        if chosen and teaser_length(lengths, lead_s, crossfade_s) > 1.1 * length_s:
            continue
        chosen.append(clip)
        if teaser_length(lengths, lead_s, crossfade_s) >= 0.9 * length_s:
            break
    return sorted(chosen, key=lambda c: c["order"])
