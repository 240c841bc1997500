"""Running the ffmpeg binary that ships inside imageio-ffmpeg (argument lists, never a shell)."""

import errno
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg


class FfmpegError(RuntimeError):
    pass


class FfmpegDiskFullError(OSError, FfmpegError):
    """ffmpeg could not write its output: the disk is full (ENOSPC) or a file size limit hit (EFBIG).
    An ``OSError`` with the output's ``filename``, so callers treat it like any full disk."""


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], timeout_s: float, cwd: Path | None = None,
               progress: Callable[[float], None] | None = None, output: Path | None = None) -> None:
    """Run ffmpeg with ``args``; ``progress`` receives the output time written so far, in seconds,
    from ffmpeg's ``-progress`` lines (stderr is kept in a file for the error message). ``output``,
    the file ffmpeg writes, is named by a disk-full error."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
           "-y", *args]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=cwd)
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if progress and key == "out_time_us" and value.isdigit():
                    progress(int(value) / 1e6)
            returncode = proc.wait()
        finally:
            timed_out = not timer.is_alive()
            timer.cancel()
        if returncode != 0:
            if timed_out:
                raise FfmpegError(f"ffmpeg did not finish within {timeout_s:.0f} s")
            err.seek(0)
            stderr = err.read()
            tail = "\n".join(stderr.strip().splitlines()[-8:])
            filename = str(output) if output else None
            if "No space left on device" in stderr:
                raise FfmpegDiskFullError(errno.ENOSPC, f"ffmpeg ran out of disk space writing its output: {tail}",
                                          filename)
            if returncode == -signal.SIGXFSZ:
                raise FfmpegDiskFullError(errno.EFBIG, "ffmpeg's output exceeded the file size limit (RLIMIT_FSIZE)",
                                          filename)
            raise FfmpegError(f"ffmpeg exited with status {returncode}: {tail}")
