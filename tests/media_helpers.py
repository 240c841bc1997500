"""Test helpers for making media and uploads, and for reading what a sensor logged."""

import json
import logging
import subprocess
from pathlib import Path

from real_estate_dag.ops.ffmpeg import ffmpeg_exe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


# Options for a test that is not about the variants: the showcase alone, no teaser or unbranded twin.
SHOWCASE_ONLY = {"teaser": False, "unbranded": False}


def write_upload(root: Path, folder: str, videos: dict[str, Path], **manifest: object) -> Path:
    """Create uploads/<folder>/ with copies of ``videos`` and a manifest written last."""
    target = root / "uploads" / folder
    target.mkdir(parents=True, exist_ok=True)
    for name, source in videos.items():
        (target / name).write_bytes(source.read_bytes())
    body = {"property_id": folder, "videos": list(videos), **manifest}
    (target / "manifest.json").write_text(json.dumps(body))
    return target


class Messages(logging.Handler):
    """Collects (level, message) of every record logged to it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))
