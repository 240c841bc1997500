"""Animated previews of rendered files for the asset page: a few frames spread over the video, as an
animated WebP small enough to embed in metadata."""

import base64
import io
from pathlib import Path

from PIL import Image

from real_estate_dag.ops.visuals import MAX_IMAGE_BYTES, fit_width, poster_frame

FRAME_MS = 400


def animated_preview(video: Path, duration_s: float, frames: int = 12, width: int = 320,
                     limit_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """WebP bytes of ``frames`` frames evenly spread over ``video``, ``width`` pixels wide; smaller
    (fewer frames, narrower, lower quality) until under ``limit_bytes``."""
    times = [duration_s * (i + 0.5) / frames for i in range(frames)]
    pictures = [poster_frame(video, t) for t in times]
    quality = 60
    while True:
        scaled = [fit_width(p, width) for p in pictures]
        buffer = io.BytesIO()
        scaled[0].save(buffer, "WEBP", save_all=True, append_images=scaled[1:], duration=FRAME_MS, loop=0,
                       quality=quality, method=4)
        data = buffer.getvalue()
        if len(data) < limit_bytes or width <= 96:
            return data
        width, quality = int(width * 0.8), max(20, quality - 10)
        if len(pictures) > 6:
            pictures = pictures[::2]


def preview_markdown(data: bytes, alt: str, caption: str = "") -> str:
    uri = "data:image/webp;base64," + base64.b64encode(data).decode()
    return f"![{alt}]({uri})" + (f"\n\n{caption}" if caption else "")


def frame_count(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return getattr(image, "n_frames", 1)
