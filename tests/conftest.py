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


NARRATION = "Welcome home. The kitchen has granite countertops. The house has a new roof. Call Mary Brown today."
NARRATION_LEAD_S = 0.5  # silence before the first word


@pytest.fixture(scope="session")
def narration_wav(media_dir: Path) -> Path:
    """``NARRATION`` spoken by espeak-ng (a Debian package), 0.5 s of silence first."""
    spoken = media_dir / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(spoken), NARRATION], check=True)
    out = media_dir / "narration.wav"
    ffmpeg("-i", str(spoken), "-af", f"adelay={round(NARRATION_LEAD_S * 1000)}:all=1,aresample=48000", str(out))
    return out


@pytest.fixture(scope="session")
def narrated_clip(source_video: Path, narration_wav: Path, media_dir: Path) -> Path:
    """10 s of the packaged footage where a face is on screen (from 62 s), with the narration as its sound."""
    out = media_dir / "narrated.mp4"
    ffmpeg("-ss", "62", "-t", "10", "-i", str(source_video), "-i", str(narration_wav), "-filter_complex",
           "[1:a]apad[a]", "-map", "0:v", "-map", "[a]", "-t", "10", "-c:v", "libx264", "-preset", "veryfast",
           "-c:a", "aac", str(out))
    return out
