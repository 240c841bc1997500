"""Black bars burned into a source (letterbox, pillarbox): where the picture really is.

Rows and columns are judged on the sampled frames: a row belongs to a bar when nearly all of it
(its 95th percentile of luma) stays below ``threshold`` in at least ``share`` of them, and bars are
the runs of such rows (columns) that start at an edge. A dark scene still has some light in most of
its rows, and a video that is dark everywhere keeps its whole frame (``min_picture``).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PictureBox:
    """The picture inside any bars, in pixels of the displayed (rotated) source frame."""

    x: int
    y: int
    width: int
    height: int


class BarProfile:
    """Per row and per column of each sampled frame, its 95th percentile of luma, gathered while the
    video decodes."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.columns: list[np.ndarray] = []

    def add(self, rgb: np.ndarray) -> None:
        luma = rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        self.rows.append(np.percentile(luma, 95, axis=1))
        self.columns.append(np.percentile(luma, 95, axis=0))

    def picture(self, width: int, height: int, *, threshold: float = 24.0, share: float = 0.9,
                min_picture: float = 0.4) -> PictureBox:
        """The picture box in a ``width`` x ``height`` frame (the sampled frames may be smaller)."""
        if not self.rows:
            return PictureBox(0, 0, width, height)
        top, bottom = _bars(np.stack(self.rows), threshold, share)
        left, right = _bars(np.stack(self.columns), threshold, share)
        sample_h, sample_w = len(self.rows[0]), len(self.columns[0])
        y0, y1 = _edges(top, bottom, sample_h, height)
        x0, x1 = _edges(left, right, sample_w, width)
        if y1 - y0 < min_picture * height or x1 - x0 < min_picture * width:
            return PictureBox(0, 0, width, height)
        return PictureBox(x0, y0, x1 - x0, y1 - y0)


def _bars(profiles: np.ndarray, threshold: float, share: float) -> tuple[int, int]:
    """How many lines at the start and at the end of (samples, lines) are dark in ``share`` of the samples."""
    dark = (profiles < threshold).mean(axis=0) >= share
    light = np.flatnonzero(~dark)
    if not len(light):
        return len(dark), 0
    return int(light[0]), int(len(dark) - 1 - light[-1])


def _edges(start: int, end: int, sample_size: int, size: int) -> tuple[int, int]:
    """The picture's first and past-the-end line in a frame of ``size`` lines; a side with a bar gives
    up one more sampled line, where scaling blends the bar into the picture."""
    first = -(-(start + (start > 0)) * size // sample_size)  # rounded up, in integers: no bar gives 0
    last = (sample_size - end - (end > 0)) * size // sample_size  # and no bar gives size
    return first, max(first, last)
