"""Ken Burns clips: a slow pan or zoom over a photo, rendered with sub-pixel precision.

ffmpeg's ``zoompan`` rounds its crop window to whole pixels, so a slow move advances in visible
one-pixel steps. Here every frame is resampled from the photo with the crop window at its exact
fractional position (an affine warp with a fractional offset and scale); the renderer pipes the frames straight
into the encode of the showcase's pieces (ops/render.py), so a photo clip is encoded once.
"""

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

PUSH_ZOOM = 1.12  # an exterior pushes in by this much over its clip
PAN_ZOOM = 1.15  # a room is framed this much tighter than the widest crop, to leave room to pan
MAX_PAN = 0.3  # the most a pan travels, as a share of the crop width
# Frames are resampled from at least this many photo pixels per output pixel: at 1:1 the interpolation's
# blur changes with the sub-pixel phase, which shows as uneven motion (0.06 px measured, 0.025 px at 1.5).
OVERSAMPLE = 1.5
ANTIALIAS = 0.5  # the low-pass before a reduction by r: a Gaussian of ANTIALIAS * sqrt(r^2 - 1) source pixels


@dataclass(frozen=True)
class View:
    """A crop window of the output's aspect ratio: its centre and width in photo pixels."""

    x: float
    y: float
    width: float


@dataclass(frozen=True)
class Move:
    """A straight move from ``start`` to ``end`` over ``frames`` frames: the centre at constant speed,
    the width at a constant zoom rate."""

    start: View
    end: View
    aspect: float  # output width / height
    frames: int

    def view(self, index: int) -> View:
        t = index / max(1, self.frames - 1)
        a, b = self.start, self.end
        return View(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.width * (b.width / a.width) ** t)

    def box(self, index: int) -> tuple[float, float, float, float]:
        """The crop window of frame ``index`` as (left, top, right, bottom) in photo pixels."""
        v = self.view(index)
        height = v.width / self.aspect
        return v.x - v.width / 2, v.y - height / 2, v.x + v.width / 2, v.y + height / 2

    def to_dict(self) -> dict[str, Any]:
        return {"start": asdict(self.start), "end": asdict(self.end), "aspect": self.aspect, "frames": self.frames}


def _inside(x: float, y: float, width: float, photo: tuple[int, int], aspect: float) -> View:
    """The window of ``width`` centred as near (x, y) as keeps it inside the photo."""
    height = width / aspect
    return View(min(max(x, width / 2), photo[0] - width / 2), min(max(y, height / 2), photo[1] - height / 2), width)


def plan_move(photo: tuple[int, int], output: tuple[int, int], room: str, focus: tuple[float, float],
              frames: int) -> Move:
    """The move for a photo of size ``photo`` shown at ``output`` for ``frames`` frames: an exterior pushes
    in from the widest crop towards ``focus`` (relative 0..1 coordinates); a room pans along the photo's
    long side towards the focus, at most ``MAX_PAN`` of the frame, passing over the focus when the output
    is narrower than the photo (a 9:16 crop of a landscape photo keeps the focus in frame)."""
    width, height = photo
    aspect = output[0] / output[1]
    widest = min(width, height * aspect)
    fx, fy = focus[0] * width, focus[1] * height
    if room == "exterior":
        start = _inside(width / 2, height / 2, widest, photo, aspect)
        return Move(start, _inside(fx, fy, widest / PUSH_ZOOM, photo, aspect), aspect, frames)
    crop = widest / PAN_ZOOM
    horizontal = width >= height
    along, across = (fx, fy) if horizontal else (fy, fx)
    side = width if horizontal else height
    extent = crop if horizontal else crop / aspect
    travel = min(side - extent, MAX_PAN * crop)
    towards = 1.0 if along >= side / 2 else -1.0  # end on the focus' side
    middle = min(max(along, extent / 2 + travel / 2), side - extent / 2 - travel / 2)
    first, last = middle - towards * travel / 2, middle + towards * travel / 2
    points = [(first, across), (last, across)] if horizontal else [(across, first), (across, last)]
    start, end = (_inside(x, y, crop, photo, aspect) for x, y in points)
    return Move(start, end, aspect, frames)


def working_copy(image: Image.Image, move: Move, output_width: int) -> tuple[Image.Image, Move]:
    """``image`` reduced (once, with Lanczos) so the move's tightest window is ``OVERSAMPLE`` times
    ``output_width`` pixels wide, and the same move in its pixels."""
    tightest = min(move.start.width, move.end.width)
    scale = min(1.0, OVERSAMPLE * output_width / tightest)
    if scale > 0.999:
        return image, move
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    sx, sy = size[0] / image.width, size[1] / image.height

    def scaled(v: View) -> View:
        return View(v.x * sx, v.y * sy, v.width * sx)

    reduced = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return reduced, Move(scaled(move.start), scaled(move.end), move.aspect, move.frames)


def frames(image: Image.Image, move: Move, size: tuple[int, int], first: int = 0,
           count: int | None = None) -> Iterator[np.ndarray]:
    """The move's frames ``first`` to ``first + count`` (default: all) at ``size`` as RGB arrays, each
    resampled (bilinear, by an affine warp) from the crop window at its exact position in a copy low-passed
    for the reduction; past its end the move holds its last frame."""
    source, planned = working_copy(image.convert("RGB"), move, size[0])
    pixels = np.asarray(source)
    reduction = min(planned.start.width, planned.end.width) / size[0]
    if reduction > 1:
        pixels = cv2.GaussianBlur(pixels, (0, 0), ANTIALIAS * math.sqrt(reduction**2 - 1))
    for index in range(first, first + (planned.frames - first if count is None else count)):
        left, top, right, bottom = planned.box(min(index, planned.frames - 1))
        sx, sy = (right - left) / size[0], (bottom - top) / size[1]
        # output pixel centres (u + 0.5) to source pixel coordinates (centres at integers)
        matrix = np.array([[sx, 0.0, left + sx / 2 - 0.5], [0.0, sy, top + sy / 2 - 0.5]])
        yield cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)


def frame_size(move: Move, size: tuple[int, int]) -> tuple[int, int]:
    """The size to compute the move's frames at: ``size``, or the tightest window's size in photo pixels
    over ``OVERSAMPLE`` (even) when that is smaller: a small photo's frames are enlarged by the renderer, with
    one fixed Lanczos scale that keeps its sub-pixel motion."""
    tightest = min(move.start.width, move.end.width) / OVERSAMPLE
    if tightest >= size[0]:
        return size
    width = max(2, int(tightest) // 2 * 2)
    return width, max(2, round(width * size[1] / size[0] / 2) * 2)


def saliency_focus(image: Image.Image) -> tuple[float, float]:
    """Where the eye goes, as relative (x, y): the centroid of the spectral-residual saliency map
    (Hou & Zhang 2007) of a 64 px grey copy, over its brightest tenth, pulled a third towards the centre."""
    grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BOX), dtype=np.float64)
    spectrum = np.fft.fft2(grey)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    padded = np.pad(log_amplitude, 1, mode="wrap")
    local = sum(padded[1 + dy : 65 + dy, 1 + dx : 65 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    saliency = np.abs(np.fft.ifft2(np.exp(log_amplitude - local + 1j * np.angle(spectrum)))) ** 2
    weights = np.where(saliency >= np.quantile(saliency, 0.9), saliency, 0.0)
    ys, xs = np.mgrid[0:64, 0:64]
    total = weights.sum()
    if not math.isfinite(total) or total <= 0:
        return 0.5, 0.5
    x, y = (xs * weights).sum() / total / 63, (ys * weights).sum() / total / 63
    return round(0.5 + (x - 0.5) * 2 / 3, 4), round(0.5 + (y - 0.5) * 2 / 3, 4)


def box_focus(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float] | None:
    """The centre of the largest detected object box (x0, y0, x1, y1, relative 0..1); None without boxes."""
    if not boxes:
        return None
    x0, y0, x1, y1 = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    return round((x0 + x1) / 2, 4), round((y0 + y1) / 2, 4)
