"""Animated previews of rendered files for the asset page: a few frames spread over the video, as an
animated WebP small enough to embed in metadata.

Only key frames are decoded (every piece of a render starts with one), so a preview costs a fraction
of a decode of the file.
"""

import base64
import io
from pathlib import Path

import av
from PIL import Image

from real_estate_dag.ops.visuals import MAX_IMAGE_BYTES, fit_width, pick_evenly

FRAME_MS = 400


def key_frames(video: Path, width: int) -> list[Image.Image]:
    """Every key frame of ``video``, scaled to ``width``."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        return [fit_width(frame.to_image(), width) for frame in container.decode(stream)]


def animated_preview(video: Path, frames: int = 12, width: int = 320, limit_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """WebP bytes of up to ``frames`` key frames evenly spread over ``video``, ``width`` pixels wide;
    smaller (fewer frames, narrower, lower quality) until under ``limit_bytes``."""
    pictures = pick_evenly(key_frames(video, width), frames)
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
