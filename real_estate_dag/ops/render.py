"""Render the edit decision list with one ffmpeg filter graph: title card, crossfades, music."""

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import av

from real_estate_dag.ops.ffmpeg import run_ffmpeg

ASPECT_SIZES = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080), "4:5": (1080, 1350)}
FPS = 30
AUDIO_RATE = 48000


class RenderError(RuntimeError):
    """A render that finished but is not what was asked for; ``check`` names the showcase check it
    fails ("format" or "duration_matches_edit")."""

    def __init__(self, message: str, check: str = "format") -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class RenderClip:
    path: Path
    in_s: float
    duration_s: float
    has_audio: bool
    display_aspect: float  # width / height of the picture as displayed (inside ``crop``)
    crop: tuple[int, int, int, int] | None = None  # x, y, width, height of the picture inside black bars
    kind: str = "video"  # "photo": a Ken Burns segment (ops/kenburns.py), enlarged with Lanczos when small


@dataclass(frozen=True)
class RenderedVideo:
    path: Path
    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str
    size_bytes: int


def _fit_filter(index: int, clip: RenderClip, width: int, height: int) -> str:
    """Scale one clip's picture (inside its bars) to the frame: crop to fill when aspects are close,
    else blurred backdrop."""
    tail = f"setsar=1,fps={FPS},format=yuv420p,settb=AVTB,setpts=PTS-STARTPTS[v{index}]"
    source = f"[{index}:v]"
    if clip.crop is not None:
        x, y, w, h = clip.crop
        source += f"crop={w}:{h}:{x}:{y},"
    if clip.kind == "photo":  # already framed at the output's aspect ratio
        return f"{source}scale={width}:{height}:flags=lanczos,{tail}"
    if abs(clip.display_aspect - width / height) / (width / height) < 0.12:
        return (f"{source}scale={width}:{height}:force_original_aspect_ratio=increase,"
                f"crop={width}:{height},{tail}")
    sw, sh = width // 8 // 2 * 2, height // 8 // 2 * 2
    return (
        f"{source}split[fg{index}][bg{index}];"
        f"[bg{index}]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
        f"boxblur=6:2,scale={width}:{height}[bgs{index}];"
        f"[fg{index}]scale={width}:{height}:force_original_aspect_ratio=decrease[fgs{index}];"
        f"[bgs{index}][fgs{index}]overlay=(W-w)/2:(H-h)/2,{tail}"
    )


def build_command(
    clips: list[RenderClip],
    title_png: Path,
    out: Path,
    size: tuple[int, int],
    *,
    title_s: float,
    crossfade_s: float,
    music: Path | None,
) -> tuple[list[str], float]:
    """ffmpeg arguments and the exact output duration."""
    width, height = size
    lengths = [title_s, *(c.duration_s for c in clips)]
    total = sum(lengths) - crossfade_s * len(clips)
    args = ["-i", str(title_png)]
    for clip in clips:
        args += ["-ss", f"{clip.in_s:.4f}", "-t", f"{clip.duration_s:.4f}", "-i", str(clip.path)]
    # the title card is decoded once and repeated as a frame, not re-read from the PNG for every frame
    title_frames = max(1, round(title_s * FPS))
    graph = [f"[0:v]scale={width}:{height},setsar=1,format=yuv420p,loop=loop={title_frames - 1}:size=1:start=0,"
             f"setpts=N/{FPS}/TB,fps={FPS},settb=AVTB[v0]"]
    graph += [_fit_filter(i, clip, width, height) for i, clip in enumerate(clips, start=1)]
    previous, elapsed = "v0", title_s
    for i in range(1, len(lengths)):
        offset = elapsed - crossfade_s
        graph.append(f"[{previous}][v{i}]xfade=transition=fade:duration={crossfade_s:.3f}:"
                     f"offset={offset:.4f}[x{i}]")
        previous, elapsed = f"x{i}", offset + lengths[i]
    video_out = previous

    audio_format = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    if music is not None:
        music_index = len(lengths)
        args += ["-stream_loop", "-1", "-i", str(music)]
        fade_out = max(0.0, total - 2.0)
        graph.append(f"[{music_index}:a]{audio_format},atrim=0:{total:.4f},asetpts=PTS-STARTPTS,"
                     f"afade=t=in:d=1.5,afade=t=out:st={fade_out:.4f}:d=2[aout]")
    else:
        for i, length in enumerate(lengths):
            has_audio = i > 0 and clips[i - 1].has_audio
            source = (f"[{i}:a]{audio_format}," if has_audio
                      else f"anullsrc=r={AUDIO_RATE}:cl=stereo,{audio_format},")
            graph.append(f"{source}apad,atrim=0:{length:.4f},asetpts=PTS-STARTPTS[a{i}]")
        previous = "a0"
        for i in range(1, len(lengths)):
            graph.append(f"[{previous}][a{i}]acrossfade=d={crossfade_s:.3f}:c1=tri:c2=tri[ax{i}]")
            previous = f"ax{i}"
        graph.append(f"[{previous}]anull[aout]")

    args += [
        "-filter_complex", ";".join(graph),
        "-map", f"[{video_out}]", "-map", "[aout]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-r", str(FPS), "-c:a", "aac", "-b:a", "160k", "-ar", str(AUDIO_RATE),
        "-t", f"{total:.4f}", "-movflags", "+faststart", str(out),
    ]
    return args, total


def render_showcase(
    clips: list[RenderClip],
    title_png: Path,
    out: Path,
    size: tuple[int, int],
    *,
    title_s: float,
    crossfade_s: float,
    music: Path | None = None,
    timeout_s: float | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> RenderedVideo:
    """Render to a temporary name beside ``out``, verify it with PyAV, then rename it to ``out``;
    ``progress`` receives (seconds written, total seconds).

    On any failure (ffmpeg error, timeout, disk full, a wrong result) the temporary file is removed
    and ``out`` is left as it was.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-{os.getpid()}-{out.name}"
    args, total = build_command(
        clips, title_png, tmp, size, title_s=title_s, crossfade_s=crossfade_s, music=music
    )
    try:
        run_ffmpeg(args, timeout_s=timeout_s or max(300.0, 20.0 * total), output=tmp,
                   progress=(lambda seconds: progress(min(seconds, total), total)) if progress else None)
        rendered = inspect_video(tmp)
        if (rendered.width, rendered.height) != size or rendered.video_codec != "h264":
            raise RenderError(f"{out.name}: render is {rendered.video_codec} {rendered.width}x{rendered.height}, "
                              f"expected h264 {size[0]}x{size[1]}")
        if rendered.audio_codec != "aac":
            raise RenderError(f"{out.name}: render has no AAC audio track ({rendered.audio_codec or 'no audio'})")
        if abs(rendered.duration_s - total) > 0.5:
            raise RenderError(f"{out.name}: render is {rendered.duration_s:.2f} s long, expected {total:.2f} s",
                              check="duration_matches_edit")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return replace(rendered, path=out)


@contextmanager
def render_area(folder: Path) -> Iterator[Path]:
    """``folder``, emptied on entry and removed on exit, whatever happened: renders and temporaries
    of an earlier attempt (a killed worker's ``.tmp-*`` included) would otherwise hold disk space
    the next render needs; published renders are copies."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def inspect_video(path: Path) -> RenderedVideo:
    """Read back a rendered file with PyAV: codecs, frame size and duration."""
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise RenderError(f"{path.name}: the render cannot be opened ({exc.strerror or exc})") from exc
    with container:
        if not container.streams.video:
            raise RenderError(f"{path.name}: the render has no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = container.duration / av.time_base if container.duration else 0.0
        return RenderedVideo(
            path=path,
            duration_s=round(duration, 3),
            width=video.codec_context.width,
            height=video.codec_context.height,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio else "",
            size_bytes=path.stat().st_size,
        )
