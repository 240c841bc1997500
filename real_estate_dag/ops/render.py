"""Render an edit as pieces that are encoded once and joined by stream copy.

The time line is a list of items (cards and clips) at ``FPS``; neighbouring items overlap by one
crossfade. Each item's *body* (its frames outside the fades) and each *transition* (one crossfade)
is its own H.264 piece, encoded with the same settings and kept in a ``PieceCache`` under a key
that hashes its sources and filters. The pieces and the sound track (music, loudness normalised, or
the clips' own sound) are encoded ``PARALLEL_ENCODES`` at a time, then joined by ffmpeg's concat
demuxer with stream copy. A variant that changes a card re-encodes that card's body and its
transition only. A photo clip's Ken Burns frames are piped straight into its pieces' encodes.

Every picture filter is built in ``picture_chain`` and every sound filter in ``audio_graph``.
"""

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
from PIL import Image

from real_estate_dag.ops import kenburns
from real_estate_dag.ops.ffmpeg import run_ffmpeg
from real_estate_dag.ops.render_cache import PieceCache, file_digest, piece_key

ASPECT_SIZES = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080), "4:5": (1080, 1350)}
FPS = 30
AUDIO_RATE = 48000
LOUDNESS_LUFS = -14.0  # EBU R128 integrated loudness for web video
MUSIC_FADE_IN_S, MUSIC_FADE_OUT_S = 1.5, 2.0
# Pieces and the sound track are encoded this many at a time: x264 leaves cores idle on a short piece.
PARALLEL_ENCODES = 2
ENCODER = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-r", str(FPS)]


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
    source_id: str = ""  # the file's content identity for the piece cache (default: path, size, mtime)
    overlay: Path | None = None  # a full-frame RGBA PNG drawn over the clip (room caption, corner logo)
    kind: str = "video"  # "photo": ``path`` is a photo, shown as a Ken Burns move (ops/kenburns.py)
    room: str = ""  # a photo's room and focus point (relative x, y), which plan its move
    focus: tuple[float, float] = (0.5, 0.5)
    voice: bool = False  # narration to keep: heard over the music (ducked under it) in every variant
    mute: tuple[tuple[float, float], ...] = ()  # spans of the clip (seconds from in_s) whose sound is dropped


@dataclass(frozen=True)
class Card:
    png: Path
    duration_s: float


@dataclass(frozen=True)
class RenderedVideo:
    path: Path
    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str
    size_bytes: int
    encoded: tuple[str, ...] = field(default=(), compare=False)  # pieces this render encoded
    reused: tuple[str, ...] = field(default=(), compare=False)  # pieces it took from the cache
    keys: tuple[str, ...] = field(default=(), compare=False)  # every piece's cache key, in time line order


@dataclass(frozen=True)
class _Item:
    name: str
    frames: int
    card: Card | None = None
    clip: RenderClip | None = None


@dataclass(frozen=True)
class _Piece:
    name: str
    start_frame: int  # on the output time line
    frames: int
    segments: tuple[tuple[_Item, int, int], ...]  # (item, first frame inside it, frame count)


@dataclass(frozen=True)
class _Feed:
    """Frames ``first`` to ``first + count`` of a photo item's move, at ``size``, written as raw RGB into
    the named pipe ``fifo`` that the piece's encode reads: a photo clip is encoded once, in its pieces."""

    fifo: Path
    clip: RenderClip
    move: kenburns.Move  # planned over the whole clip at the output's size
    size: tuple[int, int]  # the frames' own size (smaller than the output for a small photo)
    first: int
    count: int


def photo_move(clip: RenderClip, frames: int, size: tuple[int, int]) -> tuple[kenburns.Move, tuple[int, int]]:
    """The Ken Burns move of a photo clip of ``frames`` frames shown at ``size``, and the size its frames are
    computed at."""
    with Image.open(clip.path) as image:
        move = kenburns.plan_move(image.size, size, clip.room, clip.focus, frames)
    return move, kenburns.frame_size(move, size)


@functools.lru_cache(maxsize=4)  # a photo's pieces (transition in, body, transition out) share one copy
def _working_copy(path: Path, modified_ns: int, move: kenburns.Move, width: int
                  ) -> tuple[Image.Image, kenburns.Move]:
    with Image.open(path) as image:
        return kenburns.working_copy(image.convert("RGB"), move, width)


def _write_feed(feed: _Feed) -> None:
    source, planned = _working_copy(feed.clip.path, feed.clip.path.stat().st_mtime_ns, feed.move, feed.size[0])
    with contextlib.suppress(BrokenPipeError), feed.fifo.open("wb") as pipe:  # opens once ffmpeg reads it
        for frame in kenburns.frames(source, planned, feed.size, feed.first, feed.count):
            pipe.write(frame.data)


def _fit_filter(clip: RenderClip, width: int, height: int) -> str:
    """Scale one clip's picture (inside its bars) to the frame: crop to fill when aspects are close,
    else blurred backdrop. Reads ``[IN]``, writes ``[FIT]``."""
    tail = f"setsar=1,fps={FPS},format=yuv420p,settb=AVTB,setpts=PTS-STARTPTS"
    source = "[IN]"
    if clip.crop is not None:
        x, y, w, h = clip.crop
        source += f"crop={w}:{h}:{x}:{y},"
    if clip.kind == "photo":  # framed at the output's aspect ratio; a small photo's frames are enlarged
        return f"{source}scale={width}:{height}:flags=lanczos,{tail}[FIT]"
    if abs(clip.display_aspect - width / height) / (width / height) < 0.12:
        return f"{source}scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},{tail}[FIT]"
    sw, sh = width // 8 // 2 * 2, height // 8 // 2 * 2
    return (
        f"{source}split[fgIN][bgIN];"
        f"[bgIN]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
        f"boxblur=6:2,scale={width}:{height}[bgsIN];"
        f"[fgIN]scale={width}:{height}:force_original_aspect_ratio=decrease[fgsIN];"
        f"[bgsIN][fgsIN]overlay=(W-w)/2:(H-h)/2,{tail}[FIT]"
    )


def picture_chain(item: _Item, first: int, frames: int, index: int, size: tuple[int, int], pipes: Path
                  ) -> tuple[list[str], list[str], str, list[_Feed]]:
    """Input arguments, filter graph lines, output label and photo feeds of ``frames`` frames of ``item``
    from its frame ``first``; inputs are numbered from ``index`` and a photo's frames come through a named
    pipe in ``pipes``. The one place picture filters are built."""
    width, height = size
    label = f"s{index}"
    if item.card is not None:  # decoded once and repeated, not re-read from the PNG for every frame
        return (["-i", str(item.card.png)],
                [f"[{index}:v]scale={width}:{height},setsar=1,format=yuv420p,loop=loop={frames - 1}:size=1:start=0,"
                 f"setpts=N/{FPS}/TB,fps={FPS},settb=AVTB,trim=end_frame={frames}[{label}]"], label, [])
    clip = item.clip
    assert clip is not None
    feeds = []
    if clip.kind == "photo":
        move, computed = photo_move(clip, item.frames, size)
        fifo = pipes / f"photo{index}.rgb"
        feeds.append(_Feed(fifo, clip, move, computed, first, frames))
        args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{computed[0]}x{computed[1]}",
                "-framerate", str(FPS), "-i", str(fifo)]
    else:
        args = ["-ss", f"{clip.in_s + first / FPS:.4f}", "-t", f"{(frames + 2) / FPS:.4f}", "-i", str(clip.path)]
    fit = _fit_filter(clip, width, height).replace("IN", str(index)).replace(f"[{index}]", f"[{index}:v]", 1)
    fit = fit.replace("[FIT]", f"[f{index}]")
    graph = [fit]
    picture = f"[f{index}]"
    if clip.overlay is not None:
        args += ["-i", str(clip.overlay)]
        graph.append(f"{picture}[{index + 1}:v]overlay=0:0:format=auto,format=yuv420p[o{index}]")
        picture = f"[o{index}]"
    # the source may end a frame early: the last frame is held so that every piece is exact
    graph.append(f"{picture}tpad=stop=-1:stop_mode=clone,trim=end_frame={frames},setpts=PTS-STARTPTS[{label}]")
    return args, graph, label, feeds


def _inputs_of(item: _Item, feeds: list[_Feed]) -> dict[str, str]:
    """Local paths -> content identities, for the piece key."""
    if item.card is not None:
        return {str(item.card.png): "card:" + file_digest(item.card.png)}
    clip = item.clip
    assert clip is not None
    stat = clip.path.stat()
    identity = "clip:" + (clip.source_id or f"{clip.path}:{stat.st_size}:{stat.st_mtime_ns}")
    found = {str(clip.path): identity}
    for feed in feeds:  # the move is planned over the whole clip: its frames depend on all of these
        found[str(feed.fifo)] = (f"photo:{identity}:{clip.room}:{clip.focus}:{feed.move.frames}:"
                                 f"{feed.first}:{feed.count}")
    if clip.overlay is not None:
        found[str(clip.overlay)] = "overlay:" + file_digest(clip.overlay)
    return found


def _piece_command(piece: _Piece, size: tuple[int, int], out: Path, pipes: Path
                   ) -> tuple[list[str], dict[str, str], list[_Feed]]:
    args: list[str] = []
    graph: list[str] = []
    labels: list[str] = []
    identities: dict[str, str] = {}
    feeds: list[_Feed] = []
    index = 0
    # xfade stops at its first input's last timestamp: a transition's inputs run one frame longer
    extra = 1 if len(piece.segments) == 2 else 0
    for item, first, frames in piece.segments:
        more, lines, label, fed = picture_chain(item, first, frames + extra, index, size, pipes)
        index += sum(1 for a in more if a == "-i")
        args += more
        graph += lines
        labels.append(label)
        identities |= _inputs_of(item, fed)
        feeds += fed
    if len(labels) == 2:
        graph.append(f"[{labels[0]}][{labels[1]}]xfade=transition=fade:duration={piece.frames / FPS:.4f}:offset=0,"
                     f"trim=end_frame={piece.frames}[v]")
    else:
        graph.append(f"[{labels[0]}]null[v]")
    args += ["-filter_complex", ";".join(graph), "-map", "[v]", *ENCODER, "-frames:v", str(piece.frames), "-an",
             str(out)]
    return args, identities, feeds


def _encode(args: list[str], feeds: list[_Feed], timeout_s: float, output: Path) -> None:
    """Run the piece's encode while threads write its photo frames into their named pipes."""
    for feed in feeds:
        os.mkfifo(feed.fifo)
    with ThreadPoolExecutor(max_workers=max(1, len(feeds))) as pool:
        written: list[Future] = [pool.submit(_write_feed, feed) for feed in feeds]
        try:
            run_ffmpeg(args, timeout_s=timeout_s, output=output)
        finally:
            for feed in feeds:  # a writer still waiting for its reader (ffmpeg failed first) is let go
                with contextlib.suppress(OSError):
                    os.close(os.open(feed.fifo, os.O_RDONLY | os.O_NONBLOCK))
            for future in written:
                future.result()
            for feed in feeds:
                feed.fifo.unlink(missing_ok=True)


def _plan(items: list[_Item], fade: int) -> list[_Piece]:
    """Bodies and transitions in time line order."""
    pieces = []
    start = 0
    for i, item in enumerate(items):
        head = fade if i > 0 else 0
        tail = fade if i < len(items) - 1 else 0
        if i > 0:
            previous = items[i - 1]
            pieces.append(_Piece(f"transition {previous.name} > {item.name}", start, fade,
                                 ((previous, previous.frames - fade, fade), (item, 0, fade))))
            start += fade
        body = item.frames - head - tail
        if body > 0:
            pieces.append(_Piece(item.name, start, body, ((item, head, body),)))
            start += body
    return pieces


def audio_graph(items: list[_Item], fade: int, total_s: float, music: Path | None, first_input: int,
                source_audio: bool = True, duck_ratio: float = 8.0) -> tuple[list[str], list[str]]:
    """Input arguments and filter graph lines that make ``[aout]``: the music (looped, loudness
    normalised, faded in and out), or each clip's own sound crossfaded as the pictures are (silence
    without ``source_audio``). Clips with ``voice`` keep their sound in both cases, minus their
    ``mute`` spans; under it the music is ducked by sidechain compression keyed by that voice. The one
    place sound filters are built."""
    audio_format = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    loudness = f"loudnorm=I={LOUDNESS_LUFS:g}:TP=-1.5:LRA=11,{audio_format}"
    voiced = any(item.clip is not None and item.clip.voice and item.clip.has_audio for item in items)
    args: list[str] = []
    graph: list[str] = []
    index = first_input
    if music is not None:
        fade_out = max(0.0, total_s - MUSIC_FADE_OUT_S)
        args += ["-stream_loop", "-1", "-vn", "-i", str(music)]
        label = "music" if voiced else "aout"
        graph.append(f"[{index}:a]{audio_format},atrim=0:{total_s:.4f},asetpts=PTS-STARTPTS,{loudness},"
                     f"afade=t=in:d={MUSIC_FADE_IN_S},afade=t=out:st={fade_out:.4f}:d={MUSIC_FADE_OUT_S},"
                     f"atrim=0:{total_s:.4f}[{label}]")
        index += 1
        if not voiced:
            return args, graph
    for i, item in enumerate(items):
        length = item.frames / FPS
        clip = item.clip
        heard = clip is not None and clip.has_audio and (clip.voice or (source_audio and music is None))
        if heard:
            args += ["-vn", "-ss", f"{clip.in_s:.4f}", "-t", f"{length:.4f}", "-i", str(clip.path)]
            muted = "".join(f"volume=enable='between(t,{a:.3f},{b:.3f})':volume=0," for a, b in clip.mute)
            source = f"[{index}:a]{audio_format},{muted}"
            index += 1
        else:
            source = f"anullsrc=r={AUDIO_RATE}:cl=stereo,{audio_format},"
        graph.append(f"{source}apad,atrim=0:{length:.4f},asetpts=PTS-STARTPTS[a{i}]")
    previous = "a0"
    for i in range(1, len(items)):
        graph.append(f"[{previous}][a{i}]acrossfade=d={fade / FPS:.4f}:c1=tri:c2=tri[ax{i}]")
        previous = f"ax{i}"
    if music is None:
        graph.append(f"[{previous}]anull[aout]")
        return args, graph
    graph += [f"[{previous}]asplit[key][voice]",
              f"[music][key]sidechaincompress=threshold=0.02:ratio={duck_ratio:g}:attack=20:release=400[ducked]",
              f"[ducked][voice]amix=inputs=2:duration=first:normalize=0,atrim=0:{total_s:.4f}[aout]"]
    return args, graph


def render_edit(
    cards_and_clips: list[Card | RenderClip],
    out: Path,
    size: tuple[int, int],
    *,
    crossfade_s: float,
    music: Path | None = None,
    cache: PieceCache | None = None,
    source_audio: bool = True,
    duck_ratio: float = 8.0,
    timeout_s: float | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> RenderedVideo:
    """Render ``cards_and_clips`` (in order, neighbours crossfaded) to a temporary name beside ``out``,
    verify it with PyAV, then rename it to ``out``; ``progress`` receives (seconds encoded, total).

    Pieces come from ``cache`` when it holds them and are added to it otherwise (without a cache,
    a temporary one is used and removed). On any failure the temporary file is removed and ``out``
    is left as it was.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-{os.getpid()}-{out.name}"
    fade = round(crossfade_s * FPS)
    items = [_Item(f"card {i}" if isinstance(e, Card) else f"clip {i}", round(e.duration_s * FPS),
                   card=e if isinstance(e, Card) else None, clip=e if isinstance(e, RenderClip) else None)
             for i, e in enumerate(cards_and_clips)]
    total_frames = sum(item.frames for item in items) - fade * (len(items) - 1)
    total = total_frames / FPS
    limit = timeout_s or max(300.0, 20.0 * total)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-pieces-", dir=out.parent))
    cache = cache or PieceCache(work / "cache")
    try:
        pieces = _plan(items, fade)
        keys = [piece_key(args, identities) for args, identities, _ in
                (_piece_command(piece, size, Path("PIECE"), work / f"piece{n}") for n, piece in enumerate(pieces))]
        encoded, reused, wanted = [], [], {}
        for n, (piece, key) in enumerate(zip(pieces, keys, strict=True)):
            if key in wanted or cache.lookup(key) is not None:
                reused.append(piece.name)
            else:
                wanted[key] = n
                encoded.append(piece.name)

        def encode(n: int) -> None:
            (work / f"piece{n}").mkdir()
            partial = cache.temporary(keys[n])
            args, _, feeds = _piece_command(pieces[n], size, partial, work / f"piece{n}")
            try:
                _encode(args, feeds, limit, tmp)
                cache.commit(keys[n], partial)
            finally:
                partial.unlink(missing_ok=True)

        sound = work / "sound.m4a"
        audio_args, graph = audio_graph(items, fade, total, music, first_input=0, source_audio=source_audio,
                                        duck_ratio=duck_ratio)
        with ThreadPoolExecutor(max_workers=PARALLEL_ENCODES) as pool:
            futures = {pool.submit(encode, n): pieces[n].frames / FPS for n in wanted.values()}
            futures[pool.submit(run_ffmpeg, [*audio_args, "-filter_complex", ";".join(graph), "-map", "[aout]",
                                             "-c:a", "aac", "-b:a", "160k", "-ar", str(AUDIO_RATE),
                                             "-t", f"{total:.4f}", str(sound)], timeout_s=limit, output=tmp)] = 0.0
            done_s = sum(piece.frames for piece in pieces if piece.name in reused) / FPS
            try:
                for future in as_completed(futures):
                    future.result()
                    done_s += futures[future]
                    if progress:
                        progress(min(total, done_s), total)
            finally:
                pool.shutdown(cancel_futures=True)
        concat = work / "pieces.txt"
        concat.write_text("".join(f"file '{cache.path(key).resolve()}'\n" for key in keys))
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(concat), "-i", str(sound), "-map", "0:v", "-map", "1:a",
                    "-c", "copy", "-t", f"{total:.4f}", "-movflags", "+faststart", str(tmp)],
                   timeout_s=limit, output=tmp)
        rendered = inspect_video(tmp)
        _verify(rendered, out.name, size, total)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return replace(rendered, path=out, encoded=tuple(encoded), reused=tuple(reused), keys=tuple(keys))


def _verify(rendered: RenderedVideo, name: str, size: tuple[int, int], total: float) -> None:
    if (rendered.width, rendered.height) != size or rendered.video_codec != "h264":
        raise RenderError(f"{name}: render is {rendered.video_codec} {rendered.width}x{rendered.height}, "
                          f"expected h264 {size[0]}x{size[1]}")
    if rendered.audio_codec != "aac":
        raise RenderError(f"{name}: render has no AAC audio track ({rendered.audio_codec or 'no audio'})")
    if abs(rendered.duration_s - total) > 0.5:
        raise RenderError(f"{name}: render is {rendered.duration_s:.2f} s long, expected {total:.2f} s",
                          check="duration_matches_edit")


def render_showcase(
    clips: list[RenderClip],
    title_png: Path,
    out: Path,
    size: tuple[int, int],
    *,
    title_s: float,
    crossfade_s: float,
    music: Path | None = None,
    closing: Card | None = None,
    cache: PieceCache | None = None,
    timeout_s: float | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> RenderedVideo:
    """The title card, the clips and the optional closing card, rendered with ``render_edit``."""
    edit: list[Card | RenderClip] = [Card(title_png, title_s), *clips, *([closing] if closing else [])]
    return render_edit(edit, out, size, crossfade_s=crossfade_s, music=music, cache=cache, timeout_s=timeout_s,
                       progress=progress)


def burn_in_captions(video: RenderedVideo, captions: Path, timeout_s: float | None = None) -> RenderedVideo:
    """``video`` with ``captions`` (SRT) drawn into its picture by libass, re-encoded in place with the same
    settings (the sound is copied); checked like any render."""
    tmp = video.path.parent / f".tmp-{os.getpid()}-captions-{video.path.name}"
    escaped = str(captions).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    try:
        run_ffmpeg(["-i", str(video.path), "-vf", f"subtitles=filename='{escaped}':force_style='FontSize=16'",
                    *ENCODER, "-c:a", "copy", "-movflags", "+faststart", str(tmp)],
                   timeout_s=timeout_s or max(300.0, 20.0 * video.duration_s), output=tmp)
        burned = inspect_video(tmp)
        _verify(burned, video.path.name, (video.width, video.height), video.duration_s)
        os.replace(tmp, video.path)
    finally:
        tmp.unlink(missing_ok=True)
    return replace(video, size_bytes=video.path.stat().st_size)


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
