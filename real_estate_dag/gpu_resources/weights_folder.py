"""A folder of prefetched model weights (REDAG_MODELS_DIR) described by ``manifest.json``.

The manifest lists, per model key (``shots/transnetv2``, ``rooms/mobilenet_v2``,
``rooms/open_clip/<model>``, ``quality/pyiqa/<metric>``), where its files came from and the sha256
and size of each file. ``prefetch.py`` writes the folder; the registry loads weights from it, so a
GPU worker without network access runs the same models.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from real_estate_dag.ops.inputs import fingerprint

MANIFEST = "manifest.json"


class WeightsMismatchError(RuntimeError):
    """A weights file differs from what the manifest recorded: corrupted, truncated or replaced."""


@dataclass(frozen=True)
class WeightsFile:
    path: str  # relative to the folder
    sha256: str
    size: int


@dataclass(frozen=True)
class WeightsEntry:
    key: str
    source: str
    files: tuple[WeightsFile, ...]

    @property
    def digest(self) -> str:
        """One digest for the entry: the file's own for a single file, else a digest of the list."""
        if len(self.files) == 1:
            return self.files[0].sha256
        listing = "\n".join(f"{f.path} {f.sha256}" for f in sorted(self.files, key=lambda f: f.path))
        return hashlib.sha256(listing.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    return fingerprint(path)["sha256"]


def read_manifest(folder: Path) -> dict[str, WeightsEntry]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return {}
    raw = json.loads(manifest.read_text())
    return {
        key: WeightsEntry(key, entry["source"], tuple(WeightsFile(**f) for f in entry["files"]))
        for key, entry in raw["entries"].items()
    }


def write_manifest(folder: Path, entries: dict[str, WeightsEntry]) -> None:
    body = {"format": 1, "entries": {
        key: {"source": e.source, "files": [f.__dict__ for f in e.files]} for key, e in sorted(entries.items())
    }}
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    tmp.replace(folder / MANIFEST)


def verify_entry(folder: Path, entry: WeightsEntry) -> list[str]:
    """Problems with one entry's files, each naming the file; empty when every digest matches."""
    problems = []
    for expected in entry.files:
        path = folder / expected.path
        if not path.is_file():
            problems.append(f"{path}: missing (listed under {entry.key})")
            continue
        found = sha256_file(path)
        if found != expected.sha256:
            problems.append(f"{path}: sha256 {found} does not match the manifest's {expected.sha256} "
                            f"({entry.key}; size {path.stat().st_size}, expected {expected.size})")
    return problems


def entry(folder: str, key: str) -> WeightsEntry | None:
    """The manifest entry for ``key`` in ``folder`` (None when there is no folder or no such entry)."""
    return read_manifest(Path(folder)).get(key) if folder else None
