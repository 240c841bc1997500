"""Shared fixtures: real footage from installed packages, cut and re-encoded with ffmpeg."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_helpers import ffmpeg

from real_estate_dag.demo import demo_footage


@pytest.fixture(scope="session")
def source_video() -> Path:
    """TransNetV2's test video (160x90, 25 fps, 212 s, AAC audio), shipped in its wheel."""
    path = demo_footage()
    assert path.is_file()
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def short_clip(source_video: Path, media_dir: Path) -> Path:
    """The first 40 s of the real footage: 1000 frames with many cuts."""
    out = media_dir / "short.mp4"
    ffmpeg("-i", str(source_video), "-t", "40", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out))
    return out


@pytest.fixture(scope="session")
def tiny_clip(source_video: Path, media_dir: Path) -> Path:
    """The first 8 s of the real footage (200 frames, one shot longer than 2 s)."""
    out = media_dir / "tiny8.mp4"
    ffmpeg("-i", str(source_video), "-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out))
    return out


@pytest.fixture(scope="session")
def music_track(media_dir: Path) -> Path:
    out = media_dir / "music.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=90", "-c:a", "aac", str(out))
    return out


def pytest_report_header() -> str:
    from real_estate_dag.gpu_resources.device import bf16_native

    if bf16_native("cpu"):
        return "bf16: native on this CPU; bf16 numerics tests run on their full input"
    return "bf16: emulated on this CPU (no AVX512-BF16/AMX, or ONEDNN_MAX_CPU_ISA caps it); bf16 numerics tests " \
           "run on a small input"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs with 64 KiB left, so a render or a publish runs out of space part-way."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        stat = os.statvfs(mount)
        (mount / "filler").write_bytes(bytes(stat.f_bavail * stat.f_frsize - 64 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
