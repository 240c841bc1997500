"""What a run read from the upload: each input's size and content hash, taken when it is probed and
checked again by the steps that read the file later, and user-supplied names made safe for a log line."""

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


class InputChangedError(RuntimeError):
    """An upload file that is no longer the file property_manifest probed."""


def fingerprint(path: Path) -> dict[str, Any]:
    """Size and sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"size_bytes": size, "sha256": digest.hexdigest()}


def manifest_inputs(manifest_value: dict[str, Any]) -> list[dict[str, Any]]:
    """The videos, photos and the music track a property_manifest value lists, each with its ``key`` and
    ``fingerprint``."""
    return [*manifest_value["videos"], *manifest_value.get("photos", []),
            *([manifest_value["music"]] if manifest_value["music"] else [])]


def verify_unchanged(inputs: Iterable[dict[str, Any]], local_path: Callable[[str], Path]) -> None:
    """Raise InputChangedError naming the first input whose content is not what was probed."""
    for entry in inputs:
        probed = entry.get("fingerprint")
        if probed is None:
            raise InputChangedError(f"{shown(entry['key'])} has no fingerprint: property_manifest was materialized "
                                    "by an older version; materialize it again")
        try:
            now = fingerprint(local_path(entry["key"]))
        except FileNotFoundError as exc:
            raise InputChangedError(f"{shown(entry['key'])} was removed during the run; the upload sensor "
                                    "starts a new run once the upload is complete again") from exc
        if now != probed:
            raise InputChangedError(
                f"{shown(entry['key'])} changed during the run (probed {probed['size_bytes']} bytes, sha256 "
                f"{probed['sha256'][:12]}…, now {now['size_bytes']} bytes, sha256 {now['sha256'][:12]}…); "
                "the upload sensor starts a new run for the new file")


def shown(text: str) -> str:
    """``text`` for a log line: control and other unprintable characters escaped as in ``repr``, so a
    newline in a folder name cannot forge a line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
