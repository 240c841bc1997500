"""Shot boundaries from per-frame transition probabilities (TransNetV2 conventions), fused with a
content-change score of the same 48x27 frames.

Frames are fed in windows of 100 that advance by 50; the middle 50 predictions of each window are
kept, and the stream is padded with 25 copies of its first frame and enough copies of its last.
This reproduces ``TransNetV2.predict_frames`` while streaming windows to worker threads.

A transition at frame ``k`` (TransNetV2's convention) ends the shot at ``k``; for a hard cut ``k`` is
the last frame before the new picture. TransNetV2 misses some hard cuts between similar-looking shots
with a probability well under 0.5; there the colour content still jumps from ``k`` to ``k + 1`` far
more than between the frames around it (PySceneDetect's adaptive content detector), so a modest
probability plus such a jump is taken as a cut too. Gradual transitions stay TransNetV2's: their
frame-to-frame changes are small and spread, and a jump next to a marked transition is that
transition.
"""

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from real_estate_dag.ops.workers import Workers

WINDOW, STEP, PAD = 100, 50, 25
PredictWindows = Callable[[np.ndarray], np.ndarray]


class ShotStream:
    """Transition probabilities computed while the frames arrive (from the decoder, or from disk).

    Each complete window goes to ``predict`` on ``workers`` threads, ``batch_windows`` windows per
    call; at most 100 frames and a few windows are held at a time.
    """

    def __init__(self, predict: PredictWindows, *, batch_windows: int = 1, workers: int = 1,
                 init: Callable[[], None] | None = None) -> None:
        self._predict = predict
        self.batch_windows = max(1, batch_windows)
        self._workers: Workers[list[np.ndarray], np.ndarray] = Workers(
            self._run, threads=workers, queue_size=2 * max(1, workers), init=init)
        self._buffer: list[np.ndarray] = []
        self._batch: list[np.ndarray] = []
        self.frames = 0

    def _run(self, windows: list[np.ndarray]) -> np.ndarray:
        return self._predict(np.stack(windows))[:, PAD : PAD + STEP]

    def add(self, frame: np.ndarray) -> None:
        if not self.frames:
            self._buffer.extend([frame] * PAD)
        self._buffer.append(frame)
        self.frames += 1
        if len(self._buffer) == WINDOW:
            self._window()

    def _window(self) -> None:
        self._batch.append(np.stack(self._buffer[:WINDOW]))
        del self._buffer[:STEP]
        if len(self._batch) == self.batch_windows:
            self._workers.submit(self._batch)
            self._batch = []

    @property
    def done_frames(self) -> int:
        return min(self._workers.done * self.batch_windows * STEP, self.frames)

    def finish(self) -> np.ndarray:
        """Per-frame probabilities, once the last frame was added."""
        if not self.frames:
            self._workers.cancel()
            raise ValueError("no frames were added")
        self._buffer.extend([self._buffer[-1]] * (PAD + STEP - (self.frames % STEP or STEP)))
        while len(self._buffer) >= WINDOW:
            self._window()
        if self._batch:
            self._workers.submit(self._batch)
        return np.concatenate(self._workers.close()).reshape(-1)[: self.frames]

    def cancel(self) -> None:
        self._workers.cancel()


def transition_probabilities(
    frames: np.ndarray,
    predict: PredictWindows,
    batch_windows: int = 1,
    *,
    workers: int = 1,
    init: Callable[[], None] | None = None,
) -> np.ndarray:
    """Per-frame probability that a shot transition happens at that frame."""
    stream = ShotStream(predict, batch_windows=batch_windows, workers=workers, init=init)
    try:
        for frame in frames:
            stream.add(frame)
    except BaseException:
        stream.cancel()
        raise
    return stream.finish()


@dataclass(frozen=True)
class CutSettings:
    """When a frame is a transition: ``probs > threshold``, or a hard cut confirmed by the content score
    (``probs > low_threshold``, a change of at least ``content_min`` and ``content_ratio`` times the mean
    change of the ``window`` frames on either side)."""

    threshold: float = 0.5
    low_threshold: float = 0.01
    content_ratio: float = 2.8
    content_min: float = 20.0
    window: int = 2


def content_change(frames: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Per frame ``k``, the mean absolute difference of hue, saturation and value (0..255, OpenCV's
    uint8 HSV) between frame ``k`` and ``k + 1``; 0 for the last frame. ``frames`` is (n, h, w, 3)
    RGB uint8, read ``chunk`` frames at a time (a memory map stays on disk)."""
    n = len(frames)
    out = np.zeros(n, dtype=np.float32)
    previous: np.ndarray | None = None
    for start in range(0, n, chunk):
        block = np.asarray(frames[start : start + chunk])
        count, h, w, _ = block.shape
        hsv = cv2.cvtColor(block.reshape(count * h, w, 3), cv2.COLOR_RGB2HSV).reshape(count, h, w, 3)
        hsv = hsv.astype(np.int16)
        if previous is not None:
            out[start - 1] = np.abs(hsv[0] - previous).mean()
        out[start : start + count - 1] = np.abs(np.diff(hsv, axis=0)).mean(axis=(1, 2, 3))
        previous = hsv[-1]
    return out


def adaptive_content(content: np.ndarray, window: int = 2) -> np.ndarray:
    """Each frame's change over the mean change of the ``window`` frames before and after it."""
    padded = np.pad(content.astype(np.float64), window, mode="edge")
    kernel = np.ones(2 * window + 1)
    kernel[window] = 0.0
    around = np.convolve(padded, kernel, mode="valid") / (2 * window)
    return content / np.maximum(around, 1.0)


def fused_transitions(probs: np.ndarray, content: np.ndarray, settings: CutSettings) -> np.ndarray:
    """Transition frames (bool) from TransNetV2's probabilities and the content score (see the module)."""
    above = probs > settings.threshold
    jumps = ((probs > settings.low_threshold) & (content >= settings.content_min)
             & (adaptive_content(content, settings.window) >= settings.content_ratio))
    near = np.convolve(above, np.ones(5), mode="same") > 0  # within 2 frames of a marked transition
    return above | (jumps & ~near)


def fused_shots(probs: np.ndarray, content: np.ndarray, settings: CutSettings) -> list[tuple[int, int]]:
    return transitions_to_shots(fused_transitions(probs, content, settings))


def probabilities_to_shots(probs: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Shots as inclusive (start_frame, end_frame); transition frames belong to no shot."""
    return transitions_to_shots(probs > threshold)


def transitions_to_shots(above: np.ndarray) -> list[tuple[int, int]]:
    """Shots as inclusive (start_frame, end_frame) between runs of transition frames: a run ends the
    shot at its first frame, and the next shot starts after it."""
    shots: list[tuple[int, int]] = []
    start = 0
    previous = False
    for i, is_transition in enumerate(above):
        if previous and not is_transition:
            start = i
        if not previous and is_transition and i != 0:
            shots.append((start, i))
        previous = bool(is_transition)
    if not previous:
        shots.append((start, len(above) - 1))
    return shots or [(0, len(above) - 1)]
