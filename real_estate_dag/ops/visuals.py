"""Pictures of what each step found, for the asset pages of the UI: contact sheets, shot timelines,
thumbnail strips, score plots and poster frames. Drawn with Pillow and encoded small enough to embed
in markdown metadata as data URIs.
"""

import base64
import importlib.util
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from real_estate_dag.ops.timecode import seconds_to_pts

MAX_IMAGE_BYTES = 150_000
BACKGROUND = (255, 255, 255)
INK = (36, 41, 47)
MUTED = (110, 119, 129)
GRID = (225, 228, 232)
SHOT_COLOURS = ((47, 110, 186), (110, 168, 230))  # alternate so neighbouring shots stay apart
CURVE = (214, 69, 65)
CONTENT_CURVE = (60, 150, 80)
MARK = (255, 222, 150)
# One per room type, in ops.rooms.ROOM_TYPES order (colour-blind safe: Okabe-Ito, then grey)
ROOM_COLOURS = ((0, 114, 178), (230, 159, 0), (213, 94, 0), (204, 121, 167), (86, 180, 233), (0, 158, 115),
                (240, 228, 66), (150, 150, 150))
MARGIN = 8
T = TypeVar("T")


def font_file() -> Path:
    """DejaVu Sans, as matplotlib ships it (a free licence in the spirit of the OFL): Latin with every
    accent, Greek, Cyrillic, Hebrew and Arabic."""
    spec = importlib.util.find_spec("matplotlib")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed: its DejaVu Sans font draws all text (pip install matplotlib)")
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"


@cache
def font(size: int = 12) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file()), size)


@cache
def _covered() -> frozenset[int]:
    return frozenset(TTFont(font_file(), lazy=True)["cmap"].getBestCmap())


def drawable(text: str) -> str:
    """``text`` as the font can draw it, in the user's own casing: composed (NFC), line breaks and other
    control characters turned into spaces, and characters the font has no glyph for (most emoji) left
    out, so none shows as a box."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in unicodedata.normalize("NFC", text))
    covered = _covered()
    return " ".join("".join(c for c in text if ord(c) in covered).split())


def pick_evenly(items: Sequence[T], count: int) -> list[T]:
    """At most ``count`` items spread evenly from first to last."""
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def fit_width(image: Image.Image, width: int) -> Image.Image:
    height = max(1, round(image.height * width / image.width))
    return image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def contact_sheet(frames: Sequence[tuple[Image.Image, str]], columns: int = 6, thumb_width: int = 160) -> Image.Image:
    """Frames in a grid, each with its caption (e.g. video and time) underneath."""
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    thumbs = [(fit_width(image, thumb_width), caption) for image, caption in frames]
    columns = min(columns, len(thumbs))
    rows = -(-len(thumbs) // columns)
    label_h = 16
    cell_h = max(t.height for t, _ in thumbs) + label_h
    sheet = Image.new("RGB", (MARGIN + columns * (thumb_width + MARGIN), MARGIN + rows * (cell_h + MARGIN)),
                      BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    small = font(11)
    for i, (thumb, caption) in enumerate(thumbs):
        x = MARGIN + (i % columns) * (thumb_width + MARGIN)
        y = MARGIN + (i // columns) * (cell_h + MARGIN)
        sheet.paste(thumb, (x, y))
        draw.text((x, y + thumb.height + 2), fit_text(draw, caption, small, thumb_width), font=small, fill=INK)
    return sheet


def thumbnail_strip(images: Sequence[Image.Image], height: int = 36) -> Image.Image:
    """Frames side by side at the same height, one pixel apart."""
    if not images:
        raise ValueError("a thumbnail strip needs at least one image")
    thumbs = [image.convert("RGB").resize((max(1, round(image.width * height / image.height)), height),
                                          Image.Resampling.LANCZOS) for image in images]
    strip = Image.new("RGB", (sum(t.width for t in thumbs) + len(thumbs) - 1, height), BACKGROUND)
    x = 0
    for thumb in thumbs:
        strip.paste(thumb, (x, 0))
        x += thumb.width + 1
    return strip


@dataclass(frozen=True)
class TimelineRow:
    """One video on the shot timeline: its shots in seconds, its per-frame transition probability and
    content-change score (both 0..1)."""

    name: str
    duration_s: float
    shots_s: Sequence[tuple[float, float]]
    probabilities: np.ndarray | None = None
    content: np.ndarray | None = None


@dataclass(frozen=True)
class ScoreSeries:
    """One video's quality score per sampled frame."""

    name: str
    duration_s: float
    times_s: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class ClipMark:
    """A span of one video to highlight on a score plot, e.g. a chosen clip."""

    video: str
    start_s: float
    end_s: float
    label: str


class _Axis:
    """Maps seconds to x pixels across the plot area of a row."""

    def __init__(self, duration_s: float, left: int, right: int) -> None:
        self.duration_s = max(duration_s, 1e-6)
        self.left, self.right = left, right

    def x(self, seconds: float) -> float:
        return self.left + (self.right - self.left) * min(max(seconds, 0.0), self.duration_s) / self.duration_s

    def draw_ticks(self, draw: ImageDraw.ImageDraw, top: int, bottom: int, label_y: int) -> None:
        step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if self.duration_s / s <= 10), 1200)
        small = font(10)
        t = 0.0
        while t <= self.duration_s + 1e-6:
            x = self.x(t)
            draw.line([(x, top), (x, bottom)], fill=GRID)
            text = f"{t:g}s" if step < 60 else f"{t / 60:g}m"
            draw.text((x - draw.textlength(text, font=small) / 2, label_y), text, font=small, fill=MUTED)
            t += step


def shot_timeline(rows: Sequence[TimelineRow], width: int = 960) -> Image.Image:
    """Per video: alternating coloured bars for its shots (gaps are transitions) and, under them, the
    content-change curve and the transition probability curve over it; time runs left to right across
    each video's own duration."""
    if not rows:
        raise ValueError("a shot timeline needs at least one video")
    title_h, bar_h, curve_h, axis_h = 18, 26, 34, 16
    row_h = title_h + bar_h + 4 + curve_h + axis_h + MARGIN
    image = Image.new("RGB", (width, MARGIN + row_h * len(rows)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        top = MARGIN + r * row_h
        draw.text((MARGIN, top), f"{row.name}: {len(row.shots_s)} shots, {row.duration_s:.1f} s",
                  font=font(12), fill=INK)
        axis = _Axis(row.duration_s, MARGIN, width - MARGIN)
        bar_top = top + title_h
        curve_top = bar_top + bar_h + 4
        axis.draw_ticks(draw, bar_top, curve_top + curve_h, curve_top + curve_h + 2)
        for i, (start, end) in enumerate(row.shots_s):
            x0, x1 = axis.x(start), axis.x(end)
            x0 += 1 if i else 0  # a white hairline between back-to-back shots
            draw.rectangle([x0, bar_top, max(x0, x1 - 1), bar_top + bar_h], fill=SHOT_COLOURS[i % 2])
        draw.rectangle([axis.left, curve_top, axis.right, curve_top + curve_h], outline=GRID)
        for series, colour in ((row.content, CONTENT_CURVE), (row.probabilities, CURVE)):
            if series is not None and len(series):
                values = np.clip(np.asarray(series, dtype=np.float64), 0.0, 1.0)
                xs = np.linspace(axis.left, axis.right, len(values))
                ys = curve_top + curve_h - values * curve_h
                draw.line(_decimate(xs, ys, axis.right - axis.left), fill=colour, width=1)
    return image


def score_plot(series: Sequence[ScoreSeries], marks: Sequence[ClipMark] = (), width: int = 960,
               panel_height: int = 120) -> Image.Image:
    """Per video: the quality score (0..1) of each sampled frame over time, with ``marks`` shaded."""
    if not series:
        raise ValueError("a score plot needs at least one video")
    title_h, axis_h, left = 18, 16, 34
    row_h = title_h + panel_height + axis_h + MARGIN
    image = Image.new("RGB", (width, MARGIN + row_h * len(series)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small = font(10)
    for r, s in enumerate(series):
        top = MARGIN + r * row_h
        own = [m for m in marks if m.video == s.name]
        title = f"{s.name}: quality score of {len(s.scores)} sampled frames"
        chosen = f", {len(own)} chosen clip" + ("" if len(own) == 1 else "s") if marks else ""
        draw.text((MARGIN, top), title + chosen, font=font(12), fill=INK)
        axis = _Axis(s.duration_s, left, width - MARGIN)
        plot_top, plot_bottom = top + title_h, top + title_h + panel_height

        def y(score: float, plot_top: int = plot_top) -> float:
            return plot_top + (1.0 - min(max(score, 0.0), 1.0)) * panel_height

        for mark in own:
            x0, x1 = axis.x(mark.start_s), axis.x(mark.end_s)
            draw.rectangle([x0, plot_top, max(x0 + 1, x1), plot_bottom], fill=MARK)
            draw.text((x0 + 2, plot_top + 2), mark.label, font=small, fill=INK)
        axis.draw_ticks(draw, plot_top, plot_bottom, plot_bottom + 2)
        for level in (0.0, 0.5, 1.0):
            draw.line([(axis.left, y(level)), (axis.right, y(level))], fill=GRID)
            draw.text((MARGIN, y(level) - 6), f"{level:.1f}", font=small, fill=MUTED)
        if len(s.scores):
            points = [(axis.x(float(t)), y(float(v))) for t, v in zip(s.times_s, s.scores, strict=True)]
            if len(points) > 1:
                draw.line(points, fill=CURVE, width=2)
            for px, py in points:
                draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=CURVE)
    return image


@dataclass(frozen=True)
class RoomSequenceRow:
    """One video's room sequence: per sampled frame its time, the room the model ranks first and that
    room's probability, and the room of the chosen path (-1 where no shot holds the frame)."""

    name: str
    duration_s: float
    times_s: np.ndarray
    top: np.ndarray
    confidence: np.ndarray
    path: np.ndarray
    cuts_s: Sequence[float]


def room_sequence_plot(rows: Sequence[RoomSequenceRow], rooms: Sequence[str], width: int = 960) -> Image.Image:
    """Per video, over its duration: a bar per sampled frame in the colour of the model's top room, as
    tall as its probability, and under it the chosen path as a band of room colours; cuts are dark
    lines through both. A legend of the room colours closes the picture."""
    if not rows:
        raise ValueError("a room sequence plot needs at least one video")
    title_h, lane_h, gap, axis_h, left = 18, 30, 4, 16, 44
    row_h = title_h + 2 * lane_h + gap + axis_h + MARGIN
    legend_h = 20
    image = Image.new("RGB", (width, MARGIN + row_h * len(rows) + legend_h), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small = font(10)
    for r, row in enumerate(rows):
        top = MARGIN + r * row_h
        draw.text((MARGIN, top), f"{row.name}: {len(row.times_s)} sampled frames", font=font(12), fill=INK)
        axis = _Axis(row.duration_s, left, width - MARGIN)
        frames_top = top + title_h
        path_top = frames_top + lane_h + gap
        axis.draw_ticks(draw, frames_top, path_top + lane_h, path_top + lane_h + 2)
        draw.text((MARGIN, frames_top + lane_h / 2 - 6), "model", font=small, fill=MUTED)
        draw.text((MARGIN, path_top + lane_h / 2 - 6), "path", font=small, fill=MUTED)
        ends = np.r_[np.asarray(row.times_s, dtype=np.float64)[1:], row.duration_s]
        for start, end, room, p, chosen in zip(row.times_s, ends, row.top, row.confidence, row.path, strict=True):
            x0, x1 = axis.x(float(start)), max(axis.x(float(start)) + 1, axis.x(float(end)))
            bar = lane_h * min(max(float(p), 0.0), 1.0)
            draw.rectangle([x0, frames_top + lane_h - bar, x1, frames_top + lane_h], fill=ROOM_COLOURS[int(room)])
            if chosen >= 0:
                draw.rectangle([x0, path_top, x1, path_top + lane_h], fill=ROOM_COLOURS[int(chosen)])
        for cut in row.cuts_s:
            draw.line([(axis.x(cut), frames_top), (axis.x(cut), path_top + lane_h)], fill=INK, width=2)
    x, y = MARGIN, MARGIN + row_h * len(rows)
    for i, room in enumerate(rooms):
        draw.rectangle([x, y + 2, x + 12, y + 14], fill=ROOM_COLOURS[i])
        draw.text((x + 16, y + 1), room, font=small, fill=INK)
        x += 16 + round(draw.textlength(room, font=small)) + 14
    return image


def poster_frame(path: Path, time_s: float) -> Image.Image:
    """The first frame of the video at or after ``time_s`` (the last frame if the video is shorter)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if time_s > 0 and stream.time_base:
            container.seek(seconds_to_pts(time_s, stream.time_base), stream=stream, backward=True)
        last = None
        for frame in container.decode(stream):
            last = frame
            if frame.time is not None and frame.time + 1e-3 >= time_s:
                break
        if last is None:
            raise ValueError(f"{path}: no decodable video frame")
        return last.to_image()


def encode(image: Image.Image, fmt: str = "JPEG", max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """``image`` as JPEG or PNG in at most ``max_bytes``: lower quality (JPEG) or fewer colours (PNG)
    first, then smaller in proportion to the excess, until it fits."""
    image = image.convert("RGB")
    while True:
        data = b""
        for attempt in (("JPEG", 85), ("JPEG", 60)) if fmt == "JPEG" else (("PNG", 0), ("PNG", 64)):
            buffer = io.BytesIO()
            if attempt[0] == "JPEG":
                image.save(buffer, "JPEG", quality=attempt[1])
            else:
                (image.quantize(colors=attempt[1]) if attempt[1] else image).save(buffer, "PNG", optimize=True)
            data = buffer.getvalue()
            if len(data) <= max_bytes:
                return data
        if min(image.size) <= 16:
            raise ValueError(f"cannot encode a {image.size} image in {max_bytes} bytes")
        scale = min(0.9, 0.95 * (max_bytes / len(data)) ** 0.5)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS)


def data_uri(image: Image.Image, fmt: str = "JPEG", max_bytes: int = MAX_IMAGE_BYTES) -> str:
    data = encode(image, fmt, max_bytes)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(data).decode("ascii")


def _decimate(xs: np.ndarray, ys: np.ndarray, pixels: int) -> list[tuple[float, float]]:
    """Keep the peak of every pixel column, so a thousand-frame curve still shows each spike."""
    if len(xs) <= 2 * pixels:
        return list(zip(xs.tolist(), ys.tolist(), strict=True))
    columns = np.minimum(((xs - xs[0]) / max(xs[-1] - xs[0], 1e-9) * pixels).astype(int), pixels - 1)
    points = []
    for column in range(pixels):
        inside = np.flatnonzero(columns == column)
        if len(inside):
            peak = inside[ys[inside].argmin()]  # smallest y = highest probability
            points.append((float(xs[peak]), float(ys[peak])))
    return points


def fit_text(draw: ImageDraw.ImageDraw, text: str, typeface: ImageFont.FreeTypeFont, max_width: int) -> str:
    """``text`` as the font draws it (see ``drawable``), shortened with an ellipsis until it is at most
    ``max_width`` pixels wide."""
    text = drawable(text)
    if draw.textlength(text, font=typeface) <= max_width:
        return text
    while text and draw.textlength(text + "…", font=typeface) > max_width:
        text = text[:-1]
    return text + "…"
