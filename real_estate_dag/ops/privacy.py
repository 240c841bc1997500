"""Blur faces (and any other class a detector reports) in the clips and photos before they are published."""

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from real_estate_dag.ops.ffmpeg import FfmpegError, ffmpeg_exe
from real_estate_dag.ops.moderation import Detection
from real_estate_dag.ops.render import RenderClip

DetectFn = Callable[[np.ndarray], list[Detection]]
PAD = 0.3  # each box grows by this share of its size on every side (faces move between detections)
FPS = 30  # as the render samples its clips


@dataclass(frozen=True)
class BlurReport:
    frames: int
    detected_frames: int
    blurred_frames: int
    boxes: int


def faces_between(findings: Sequence[dict], video: str, start_s: float, end_s: float, classes: Sequence[str],
                  min_score: float, margin_s: float = 0.5) -> int:
    """How many of moderation's findings (as dicts) of ``classes`` lie in ``video`` within a clip's span
    (widened by ``margin_s``, a sampling interval): a clip without any is not re-read to be blurred."""
    return sum(f["file"] == video and f["time_s"] is not None and start_s - margin_s <= f["time_s"] <= end_s + margin_s
               and f["label"] in classes and f["score"] >= min_score for f in findings)


def boxes_to_blur(detections: Sequence[Detection], classes: Sequence[str], min_score: float) -> list[tuple[int, ...]]:
    return [d.box for d in detections if d.label in classes and d.score >= min_score]


def blur_boxes(rgb: np.ndarray, boxes: Sequence[tuple[int, ...]], pad: float = PAD) -> np.ndarray:
    """A copy of ``rgb`` with each (x, y, w, h) box, padded, replaced by a strong blur of itself."""
    out = rgb.copy()
    height, width = rgb.shape[:2]
    for x, y, w, h in boxes:
        x0, y0 = max(0, int(x - pad * w)), max(0, int(y - pad * h))
        x1, y1 = min(width, int(x + w + pad * w) + 1), min(height, int(y + h + pad * h) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        # blurred at an eighth of the size and scaled back: as strong, and cheap at any frame size
        small = cv2.resize(out[y0:y1, x0:x1], (max(1, (x1 - x0) // 8), max(1, (y1 - y0) // 8)),
                           interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(cv2.GaussianBlur(small, (0, 0), 1.5), (x1 - x0, y1 - y0),
                                       interpolation=cv2.INTER_LINEAR)
    return out


def blur_clip(src: Path, in_s: float, duration_s: float, size: tuple[int, int], out: Path, detect: DetectFn,
              classes: Sequence[str], min_score: float, stride: int = 3) -> BlurReport:
    """Write ``duration_s`` of ``src`` from ``in_s`` to ``out`` (H.264 at ``FPS``, near lossless, its
    audio copied) with the boxes of ``classes`` blurred. ``size`` is the displayed (rotated) frame size.

    The detector runs on every ``stride``-th frame; a frame between two detections blurs the boxes of
    both, so a moving face stays covered.
    """
    width, height = size
    frame_bytes = width * height * 3
    reader = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{in_s:.4f}", "-t",
         f"{duration_s:.4f}", "-i", str(src), "-vf", f"fps={FPS},scale={width}:{height}", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with tempfile.TemporaryFile() as err:
        writer = subprocess.Popen(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt",
             "rgb24", "-s", f"{width}x{height}", "-framerate", str(FPS), "-i", "-", "-ss", f"{in_s:.4f}", "-t",
             f"{duration_s:.4f}", "-i", str(src), "-map", "0:v", "-map", "1:a?", "-c:v", "libx264", "-preset",
             "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-shortest", str(out)],
            stdin=subprocess.PIPE, stderr=err)
        assert reader.stdout is not None and writer.stdin is not None
        frames = detected = blurred = boxes = 0
        pending: list[np.ndarray] = []
        last: list[tuple[int, ...]] = []

        def flush(next_boxes: list[tuple[int, ...]]) -> None:
            nonlocal blurred, boxes
            for frame in pending:
                covering = last + next_boxes
                blurred += bool(covering)
                boxes += len(covering)
                writer.stdin.write(blur_boxes(frame, covering).tobytes())  # type: ignore[union-attr]
            pending.clear()

        try:
            while chunk := reader.stdout.read(frame_bytes):
                if len(chunk) < frame_bytes:
                    break
                frame = np.frombuffer(chunk, np.uint8).reshape(height, width, 3)
                if frames % stride == 0:
                    found = boxes_to_blur(detect(frame), classes, min_score)
                    detected += 1
                    flush(found)
                    last = found
                pending.append(frame)
                frames += 1
            flush([])
        finally:
            writer.stdin.close()
            reader.stdout.close()
            reader.wait()
            code = writer.wait()
        if code != 0 or frames == 0:
            err.seek(0)
            raise FfmpegError(f"blurring {src.name} from {in_s:.2f} s failed: {err.read().decode()[-400:]}"
                              if code else f"{src.name} has no frames from {in_s:.2f} s")
    return BlurReport(frames, detected, blurred, boxes)


def protect_clips(clips: Sequence[RenderClip], edl: Sequence[dict], sizes: Sequence[tuple[int, int]],
                  findings: Sequence[dict], classes: Sequence[str], min_score: float, detect: DetectFn,
                  folder: Path) -> tuple[list[RenderClip], list[dict]]:
    """``clips`` with every one that moderation saw a face in (``faces_between``) replaced by a blurred
    copy of its span (``blur_clip``), and a row per blurred clip."""
    protected, rows = [], []
    for i, (clip, entry, size) in enumerate(zip(clips, edl, sizes, strict=True)):
        seen = faces_between(findings, entry["video"], clip.in_s, clip.in_s + clip.duration_s, classes, min_score)
        if not classes or not seen:
            protected.append(clip)
            continue
        out = folder / f"blurred_{i}.mp4"
        report = blur_clip(clip.path, clip.in_s, clip.duration_s, size, out, detect, classes, min_score)
        protected.append(replace(clip, path=out, in_s=0.0, source_id=f"{clip.source_id or clip.path}"
                                 f"+blur:{','.join(classes)}@{min_score}:{clip.in_s}:{clip.duration_s}"))
        rows.append({"clip": entry["order"], "video": entry["video"], "in_s": clip.in_s, "sampled_faces": seen,
                     "frames": report.frames, "blurred_frames": report.blurred_frames, "boxes": report.boxes})
    return protected, rows


def blur_photo(src: Path, out: Path, detect: DetectFn, classes: Sequence[str], min_score: float,
               detect_side: int = 1280) -> int:
    """Write ``src`` (a corrected photo) to ``out`` with the boxes of ``classes`` blurred, found at up to
    ``detect_side`` pixels on the long side as moderation looks at photos; the number of boxes."""
    with Image.open(src) as image:
        rgb = np.asarray(image.convert("RGB"))
    scale = min(1.0, detect_side / max(rgb.shape[:2]))
    small = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    boxes = [tuple(round(v / scale) for v in box) for box in boxes_to_blur(detect(small), classes, min_score)]
    Image.fromarray(blur_boxes(rgb, boxes)).save(out, quality=95)
    return len(boxes)


def protect_photos(clips: Sequence[RenderClip], edl: Sequence[dict], findings: Sequence[dict],
                   classes: Sequence[str], min_score: float, detect: DetectFn, folder: Path
                   ) -> tuple[list[RenderClip], list[dict]]:
    """The photo ``clips`` with every photo that moderation saw one of ``classes`` in replaced by a copy
    with them blurred (``blur_photo``), and a row per blurred photo."""
    protected, rows = [], []
    for clip, entry in zip(clips, edl, strict=True):
        seen = sum(f["file"] == entry["video"] and f["time_s"] is None and f["label"] in classes
                   and f["score"] >= min_score for f in findings)
        if not classes or not seen:
            protected.append(clip)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"blurred_photo_{entry['order']}.jpg"
        boxes = blur_photo(clip.path, out, detect, classes, min_score)
        protected.append(replace(clip, path=out, source_id=f"{clip.source_id}+blur:{','.join(classes)}@{min_score}"))
        rows.append({"clip": entry["order"], "video": entry["video"], "in_s": 0.0, "sampled_faces": seen,
                     "frames": 1, "blurred_frames": int(boxes > 0), "boxes": boxes})
    return protected, rows
