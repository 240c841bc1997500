"""Limits on uploaded media, checked on header facts before anything is decoded."""

from dataclasses import dataclass


class LimitError(ValueError):
    """A file outside the configured limits; the message names the file, the value and the limit."""


@dataclass(frozen=True)
class MediaLimits:
    max_file_bytes: int = 8 * 1024**3
    max_video_seconds: float = 1800.0
    min_video_seconds: float = 1.0
    max_total_seconds: float = 3600.0
    max_pixels: int = 7680 * 4320
    min_short_side: int = 32
    min_fps: float = 1.0
    max_fps: float = 240.0
    max_audio_seconds: float = 3600.0
    max_photo_pixels: int = 100_000_000
    max_photo_aspect: float = 8.0


def _size(n: int) -> str:
    return f"{n} bytes ({n / 2**20:.1f} MiB)"


def check_file_size(name: str, size: int, limits: MediaLimits) -> None:
    if size > limits.max_file_bytes:
        raise LimitError(f"{name}: is {_size(size)}; the limit is {_size(limits.max_file_bytes)} "
                         "(REDAG_MAX_FILE_MIB)")


def check_video_header(name: str, width: int, height: int, duration_s: float, fps: float,
                       limits: MediaLimits) -> None:
    """Refuse a video by what its header declares, so a huge or absurd file is never decoded."""
    if width * height > limits.max_pixels:
        raise LimitError(f"{name}: declares {width}x{height} pixels ({width * height} per frame); the limit "
                         f"is {limits.max_pixels} (REDAG_MAX_PIXELS)")
    if min(width, height) < limits.min_short_side:
        raise LimitError(f"{name}: declares {width}x{height} pixels; the short side must be at least "
                         f"{limits.min_short_side}")
    if duration_s > limits.max_video_seconds:
        raise LimitError(f"{name}: declares {duration_s:.1f} s; the limit is {limits.max_video_seconds:g} s "
                         "(REDAG_MAX_VIDEO_SECONDS)")
    if duration_s < limits.min_video_seconds:
        raise LimitError(f"{name}: is {duration_s:.2f} s long; at least {limits.min_video_seconds:g} s of "
                         "video is needed")
    if not limits.min_fps <= fps <= limits.max_fps:
        raise LimitError(f"{name}: has a frame rate of {fps:.3f} fps; it must be between {limits.min_fps:g} "
                         f"and {limits.max_fps:g} fps")


def check_total_footage(total_s: float, limits: MediaLimits) -> None:
    if total_s > limits.max_total_seconds:
        raise LimitError(f"the videos add up to {total_s:.1f} s; the limit per property is "
                         f"{limits.max_total_seconds:g} s (REDAG_MAX_TOTAL_SECONDS)")


def check_audio_header(name: str, duration_s: float, limits: MediaLimits) -> None:
    if duration_s > limits.max_audio_seconds:
        raise LimitError(f"{name}: declares {duration_s:.1f} s of audio; the limit is "
                         f"{limits.max_audio_seconds:g} s")


def check_photo_header(name: str, width: int, height: int, limits: MediaLimits) -> None:
    """Refuse a photo by its declared size before it is decoded: a decompression bomb, a sliver."""
    if width * height > limits.max_photo_pixels:
        raise LimitError(f"{name}: declares {width}x{height} pixels ({width * height}); the limit is "
                         f"{limits.max_photo_pixels} (REDAG_MAX_PHOTO_PIXELS), so it is refused as a possible "
                         "decompression bomb")
    if min(width, height) < limits.min_short_side:
        raise LimitError(f"{name}: declares {width}x{height} pixels; the short side must be at least "
                         f"{limits.min_short_side}")
    if max(width, height) > limits.max_photo_aspect * min(width, height):
        raise LimitError(f"{name}: declares {width}x{height} pixels, more than {limits.max_photo_aspect:g} times "
                         "as long as it is wide; not a listing photo")
