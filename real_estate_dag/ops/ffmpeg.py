"""Running the ffmpeg binary that ships inside imageio-ffmpeg (argument lists, never a shell)."""

import signal
import subprocess
from pathlib import Path

import imageio_ffmpeg


class FfmpegError(RuntimeError):
    pass


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], timeout_s: float, cwd: Path | None = None) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=cwd, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FfmpegError(f"ffmpeg did not finish within {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        if "No space left on device" in proc.stderr:
            raise FfmpegError(f"ffmpeg ran out of disk space writing its output: {tail}")
        if proc.returncode == -signal.SIGXFSZ:
            raise FfmpegError("ffmpeg's output exceeded the file size limit (RLIMIT_FSIZE)")
        raise FfmpegError(f"ffmpeg exited with status {proc.returncode}: {tail}")
