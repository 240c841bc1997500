"""Which stored files retention removes: stale per-property intermediates and old temporary files.

Works on a store listing (key, size, last change), so it is the same for every store. Uploads are
never considered. Under ``results/<key>/``, ``current.json`` and the result sets it names (the
current and the previous one, given as ``keep``) are never removed; any other set under ``runs/``
was never completed (a killed run) or was superseded, and goes like a temporary file; other
published files (the layout before result sets) only when ``results_days`` is set.
"""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

TMP_PREFIX = ".tmp-"
RUNS, CURRENT = "runs", "current.json"  # as resources/results.py lays out a property's results
DAY, HOUR = 86400.0, 3600.0


class Listed(Protocol):
    key: str
    size: int
    modified: float | None


@dataclass(frozen=True)
class RetentionPolicy:
    work_days: float = 7.0  # a work area goes once nothing in it changed for this long (abandoned .tmp-* aside)
    tmp_hours: float = 1.0  # temporary files (.tmp-*) left by killed writers
    results_days: float = 0.0  # published results likewise; 0 keeps them forever


@dataclass(frozen=True)
class Removal:
    key: str
    size: int
    property_key: str
    reason: str  # "intermediates", "temporary", "unfinished sets" or "results"


def plan_cleanup(objects: Iterable[Listed], now: float, policy: RetentionPolicy, work: str = "work",
                 results: str = "results", keep: Mapping[str, Collection[str]] | None = None) -> list[Removal]:
    """The objects to delete; ``keep`` maps a property to its current and previous result set ids.
    Objects whose age the store cannot tell are always kept."""
    groups: dict[tuple[str, str], list[Listed]] = {}
    for obj in objects:
        parts = obj.key.split("/")
        if len(parts) >= 3 and parts[0] in (work, results):
            groups.setdefault((parts[0], parts[1]), []).append(obj)
    removals = []
    for (area, key), group in sorted(groups.items()):
        abandoned = [obj for obj in group if obj.key.rsplit("/", 1)[-1].startswith(TMP_PREFIX)
                     and obj.modified is not None and now - obj.modified > policy.tmp_hours * HOUR]
        removals += [Removal(obj.key, obj.size, key, "temporary") for obj in abandoned]
        live = [obj for obj in group if obj not in abandoned]
        if area == results:
            live, unfinished = _result_files(live, (keep or {}).get(key, ()))
            for objs in unfinished.values():
                stamps = [obj.modified for obj in objs if obj.modified is not None]
                if len(stamps) == len(objs) and now - max(stamps) > policy.tmp_hours * HOUR:
                    removals += [Removal(obj.key, obj.size, key, "unfinished sets") for obj in objs]
        known = [obj.modified for obj in live if obj.modified is not None]
        days = policy.work_days if area == work else policy.results_days
        if live and days > 0 and len(known) == len(live) and now - max(known) > days * DAY:
            reason = "intermediates" if area == work else "results"
            removals += [Removal(obj.key, obj.size, key, reason) for obj in live]
    return removals


def _result_files(objects: list[Listed], keep: Collection[str]) -> tuple[list[Listed], dict[str, list[Listed]]]:
    """Of one property's results: the files ``results_days`` may remove (neither ``current.json`` nor
    in any set), and the files of each set that is neither current nor previous."""
    loose: list[Listed] = []
    sets: dict[str, list[Listed]] = {}
    for obj in objects:
        parts = obj.key.split("/")
        if len(parts) >= 5 and parts[2] == RUNS:
            if parts[3] not in keep:
                sets.setdefault(parts[3], []).append(obj)
        elif parts[2:] != [CURRENT]:
            loose.append(obj)
    return loose, sets


def summarize(removals: list[Removal]) -> list[dict[str, str | int]]:
    """One row per property and reason: files and bytes freed."""
    files: Counter[tuple[str, str]] = Counter()
    freed: Counter[tuple[str, str]] = Counter()
    for r in removals:
        files[r.property_key, r.reason] += 1
        freed[r.property_key, r.reason] += r.size
    return [{"property": p, "reason": why, "files": files[p, why], "bytes": freed[p, why]}
            for p, why in sorted(files)]
