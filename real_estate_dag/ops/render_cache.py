"""Encoded pieces of a render, kept by content hash so that a later render reuses them.

A piece's key is the sha256 of everything that decides its frames: the ffmpeg arguments of its
encode (trims, filter graph, encoder settings) with every input file named by its content
identity (a clip's upload fingerprint, a card's PNG digest) instead of its local path. Two renders
that need the same piece share one file; a changed card or setting is a new key.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

PIECE_SUFFIX = ".mp4"
CACHE_FOLDER = "render_cache"  # under work/<property>/, one folder per aspect ratio


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def piece_key(args: list[str], inputs: dict[str, str]) -> str:
    """The content hash of an encode: ``args`` with each local input path replaced by its identity."""
    named = [inputs.get(arg, arg) for arg in args]
    return hashlib.sha256(json.dumps(named).encode()).hexdigest()[:32]


@dataclass
class PieceCache:
    """A folder of encoded pieces named by key; writes are atomic (temporary name, then rename)."""

    folder: Path
    encoded: list[str] = field(default_factory=list)  # keys encoded by this cache object, in order
    reused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{PIECE_SUFFIX}"

    def lookup(self, key: str) -> Path | None:
        found = self.path(key)
        if found.exists():
            self.reused.append(key)
            return found
        return None

    def temporary(self, key: str) -> Path:
        return self.folder / f"partial-{os.getpid()}-{key}{PIECE_SUFFIX}"

    def commit(self, key: str, tmp: Path) -> Path:
        os.replace(tmp, self.path(key))
        self.encoded.append(key)
        return self.path(key)


def piece_digest(keys: list[str]) -> str:
    """One digest of the pieces of several renders: the showcase step's data version."""
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
