"""A conservative, deterministic correction of a listing photo, and upscaling of small ones.

The correction is measured on a small copy and applied to the full picture as one tone curve per
channel (white balance, exposure and contrast together) followed by a mild unsharp mask, so it costs
little on 12 MP photos and gives the same output for the same input. Each step is bounded: a photo
that is already balanced and exposed comes out nearly unchanged.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

MAX_GAIN = 0.12  # white balance: at most +-12% per channel
GAMMA_RANGE = (0.75, 1.33)  # exposure: mid-grey moves towards TARGET_MEAN within this gamma
TARGET_MEAN = 0.46
STRETCH_LIMIT = 0.06  # contrast: black and white points move at most this far in
CLIP_PERCENT = 0.5  # ... to the 0.5th and 99.5th percentiles of luma
SHARPEN = {"radius": 1.6, "percent": 45, "threshold": 3}

Upscaler = Callable[[Image.Image], Image.Image]  # a super-resolution model: a picture -> a larger picture


@dataclass(frozen=True)
class Correction:
    gains: tuple[float, float, float]
    gamma: float
    black: float  # input level (0..1) that becomes 0
    white: float  # input level that becomes 1

    def to_dict(self) -> dict[str, Any]:
        return {k: [round(x, 4) for x in v] if isinstance(v, tuple) else round(v, 4) for k, v in asdict(self).items()}

    def curves(self) -> list[int]:
        """The 3x256 lookup table of Pillow's ``Image.point`` for an RGB image."""
        levels = np.arange(256, dtype=np.float64) / 255.0
        table: list[int] = []
        for gain in self.gains:
            x = np.clip((levels * gain - self.black) / (self.white - self.black), 0.0, 1.0) ** self.gamma
            table += np.clip(np.round(x * 255.0), 0, 255).astype(int).tolist()
        return table


def measure_correction(thumbnail: Image.Image) -> Correction:
    """The correction for the photo ``thumbnail`` shows (any small RGB copy, e.g. 256 px)."""
    rgb = np.asarray(thumbnail.convert("RGB"), dtype=np.float64) / 255.0
    usable = (rgb.max(axis=2) < 0.98) & (rgb.min(axis=2) > 0.02)  # grey world over unclipped pixels
    means = rgb[usable].mean(axis=0) if usable.sum() > 100 else rgb.reshape(-1, 3).mean(axis=0)
    grey = means.mean()
    red, green, blue = (float(np.clip(grey / max(m, 1e-3), 1 - MAX_GAIN, 1 + MAX_GAIN)) for m in means)
    gains = (red, green, blue)
    luma = (rgb * np.array(gains)) @ np.array([0.299, 0.587, 0.114])
    low, high = np.percentile(luma, [CLIP_PERCENT, 100 - CLIP_PERCENT])
    black = float(np.clip(low, 0.0, STRETCH_LIMIT))
    white = float(np.clip(high, 1.0 - STRETCH_LIMIT, 1.0))
    stretched = np.clip((luma - black) / (white - black), 1e-3, 1.0)
    median = float(np.median(stretched))
    gamma = float(np.clip(np.log(TARGET_MEAN) / np.log(np.clip(median, 0.02, 0.98)), *GAMMA_RANGE))
    return Correction(gains, gamma, black, white)


def unsharp_mask(rgb: np.ndarray, sigma: float, amount: float, threshold: int) -> np.ndarray:
    """``rgb`` plus ``amount`` times its difference from a Gaussian blur of it, where that difference is at
    least ``threshold`` levels (so flat, noisy areas stay as they are)."""
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma)
    sharpened = cv2.addWeighted(rgb, 1 + amount, blurred, -amount, 0)  # saturating 8-bit arithmetic
    return np.where(cv2.absdiff(rgb, blurred) >= threshold, sharpened, rgb)


def apply_correction(image: Image.Image, correction: Correction) -> Image.Image:
    """``image`` with the tone curves and the mild sharpening applied (a new image)."""
    toned = np.asarray(image.convert("RGB").point(correction.curves()))
    return Image.fromarray(unsharp_mask(toned, SHARPEN["radius"], SHARPEN["percent"] / 100, SHARPEN["threshold"]))


def resize_for_render(image: Image.Image, short_side: int, long_side: int,
                      upscaler: Upscaler | None = None) -> tuple[Image.Image, str]:
    """``image`` with its long side at most ``long_side``, and, when its short side is under
    ``short_side`` and there is a super-resolution ``upscaler``, enlarged by it first; and how it was
    enlarged: "super-resolution", "lanczos" (left small: its clips are enlarged with Lanczos when they are
    rendered, ops/kenburns.py) or "" (large enough)."""
    how = ""
    if min(image.size) < short_side:
        how = "lanczos"
        if upscaler is not None:
            image, how = upscaler(image), "super-resolution"
    scale = long_side / max(image.size)
    if scale < 1:  # area averaging: alias-free for a reduction, and a fraction of Lanczos' cost on 12 MP
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = Image.fromarray(cv2.resize(np.asarray(image.convert("RGB")), size, interpolation=cv2.INTER_AREA))
    return image, how
