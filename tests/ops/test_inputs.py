"""Input fingerprints: a file replaced after it was probed is named, with both hashes."""

import hashlib
import os
from pathlib import Path

import pytest

from real_estate_dag.ops.inputs import InputChangedError, fingerprint, manifest_inputs, shown, verify_unchanged


def test_a_replaced_or_removed_input_is_named(tmp_path: Path, tiny_clip: Path, short_clip: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(tiny_clip.read_bytes())
    probed = fingerprint(video)
    assert probed == {"size_bytes": tiny_clip.stat().st_size,
                      "sha256": hashlib.sha256(tiny_clip.read_bytes()).hexdigest()}
    value = {"videos": [{"key": "uploads/x/a.mp4", "fingerprint": probed}], "music": None}
    verify_unchanged(manifest_inputs(value), lambda key: video)  # unchanged: no error

    swap = tmp_path / ".a.mp4.part"
    swap.write_bytes(short_clip.read_bytes())
    os.replace(swap, video)
    now = fingerprint(video)["sha256"]
    with pytest.raises(InputChangedError) as raised:
        verify_unchanged(manifest_inputs(value), lambda key: video)
    assert str(raised.value) == (
        f"uploads/x/a.mp4 changed during the run (probed {probed['size_bytes']} bytes, sha256 "
        f"{probed['sha256'][:12]}…, now {short_clip.stat().st_size} bytes, sha256 {now[:12]}…); the upload "
        "sensor starts a new run for the new file")

    video.unlink()
    with pytest.raises(InputChangedError, match=r"^uploads/x/a\.mp4 was removed during the run"):
        verify_unchanged(manifest_inputs(value), lambda key: video)
    with pytest.raises(InputChangedError, match=r"^uploads/x/a\.mp4 has no fingerprint: property_manifest was"):
        verify_unchanged([{"key": "uploads/x/a.mp4"}], lambda key: video)


def test_names_in_log_lines_cannot_forge_a_line() -> None:
    assert shown("oak\nERROR forged") == "oak\\nERROR forged"
    assert shown("Église Zoë\u200f\x1b[31m") == "Église Zoë\\u200f\\x1b[31m"
