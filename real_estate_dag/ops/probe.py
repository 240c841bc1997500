"""Facts about one media file, read with PyAV (libav's own demuxers). Videos are not decoded in full;
the music track is, since a cut-short track is found no other way and decoding audio is cheap."""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from real_estate_dag.ops.validate import MediaLimits, check_audio_header, check_video_header


class MediaError(ValueError):
    """A media file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class VideoFacts:
    duration_s: float
    fps: float
    width: int
    height: int
    rotation: int
    codec: str
    frame_count_estimate: int
    has_audio: bool
    size_bytes: int

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after applying the rotation metadata."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AudioFacts:
    duration_s: float
    codec: str
    sample_rate: int
    channels: int


def _open(path: Path, name: str, what: str) -> av.container.InputContainer:
    if path.stat().st_size == 0:
        raise MediaError(f"{name}: the file is empty (0 bytes)")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(f"{name}: not a readable {what} file ({exc.strerror or exc})") from exc


def probe_video(path: Path, name: str, limits: MediaLimits | None = None) -> VideoFacts:
    """Facts from the container header; ``limits`` are checked before any frame is decoded."""
    with _open(path, name, "media") as container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise MediaError(f"{name}: has no video stream (found: {kinds})")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise MediaError(f"{name}: video stream has no frame size")
        duration = _duration(container, stream)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if duration <= 0 or fps <= 0:
            duration, fps, frames = _scan_timing(container, stream, name)
        else:
            frames = stream.frames or round(duration * fps)
        if limits is not None:
            check_video_header(name, ctx.width, ctx.height, duration, fps, limits)
        _check_tail(container, stream, duration, name)
        rotation = _rotation(container, stream)
        return VideoFacts(
            duration_s=round(duration, 3),
            fps=round(fps, 3),
            width=ctx.width,
            height=ctx.height,
            rotation=rotation,
            codec=ctx.name,
            frame_count_estimate=int(frames),
            has_audio=bool(container.streams.audio),
            size_bytes=path.stat().st_size,
        )


def probe_audio(path: Path, name: str, limits: MediaLimits | None = None) -> AudioFacts:
    with _open(path, name, "audio") as container:
        if not container.streams.audio:
            raise MediaError(f"{name}: has no audio stream")
        stream = container.streams.audio[0]
        duration = _duration(container, stream)
        if duration <= 0:
            raise MediaError(f"{name}: audio stream has no duration")
        if limits is not None:
            check_audio_header(name, duration, limits)
        decoded = _decoded_seconds(container, stream, name)
        if decoded < duration - max(0.5, 0.02 * duration):
            raise MediaError(f"{name}: truncated: header says {duration:.1f} s, decodes to {decoded:.1f} s")
        return AudioFacts(
            duration_s=round(min(duration, decoded), 3),
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate,
            channels=stream.codec_context.channels,
        )


def _decoded_seconds(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                     name: str) -> float:
    """Seconds of audio the stream decodes to, up to its last sample."""
    end = 0.0
    try:
        for frame in container.decode(stream):
            start = float(frame.pts * frame.time_base) if frame.pts is not None else end
            end = max(end, start + frame.samples / frame.sample_rate)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{name}: cannot be decoded after {end:.1f} s ({exc.strerror or exc})") from exc
    return end - _start_seconds(stream)


def _start_seconds(stream: av.stream.Stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _scan_timing(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> tuple[float, float, int]:
    """Read packet timestamps when the header carries no duration or rate (some webm/mkv)."""
    container.seek(0, stream=stream)
    first = last = None
    count = 0
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        t = float(packet.pts * packet.time_base)
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
        count += 1
    if count < 2 or first is None or last is None or last <= first:
        raise MediaError(f"{name}: video has fewer than two timed frames")
    duration = (last - first) * count / (count - 1)
    return duration, count / duration, count


def _check_tail(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, duration: float, name: str
) -> None:
    """Refuse a file whose index promises frames its data no longer holds (an upload cut short)."""
    if not stream.time_base:
        return
    near_end = max(0.0, duration - 1.0)
    try:
        container.seek(int(near_end / stream.time_base), stream=stream, any_frame=True)
        has_data = any(packet.size for packet in _first_packets(container, stream, 8))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{name}: cannot be read near its end ({exc.strerror or exc}); "
                         "the file is probably truncated") from exc
    if not has_data:
        raise MediaError(f"{name}: is truncated: it declares {duration:.2f} s but holds no video data "
                         f"after {near_end:.2f} s")
    container.seek(0, stream=stream)


def _first_packets(container: av.container.InputContainer, stream: av.stream.Stream, n: int) -> list[av.Packet]:
    packets = []
    for packet in container.demux(stream):
        packets.append(packet)
        if len(packets) >= n:
            break
    return packets


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Clockwise display rotation in degrees (0, 90, 180, 270) from the tag or the display matrix.

    Angles between quarter turns (a tilted phone) snap to the nearest one: frames are only ever
    turned by whole quarters.
    """
    tag = stream.metadata.get("rotate")
    if tag is not None:
        try:
            return _quarter(float(tag))
        except ValueError:
            return 0
    for packet in container.demux(stream):
        frame_list = packet.decode()
        if frame_list:
            # PyAV reports the display matrix angle counter-clockwise.
            return _quarter(-frame_list[0].rotation)
    return 0


def _quarter(degrees: float) -> int:
    return round(degrees / 90) % 4 * 90
