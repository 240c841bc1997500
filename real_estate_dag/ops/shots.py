"""Shot boundaries from per-frame transition probabilities (TransNetV2 conventions).

Frames are fed in windows of 100 that advance by 50; the middle 50 predictions of each window are
kept, and the stream is padded with 25 copies of its first frame and enough copies of its last.
This reproduces ``TransNetV2.predict_frames`` while streaming windows to worker threads.
"""

from collections.abc import Callable

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


def probabilities_to_shots(probs: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Shots as inclusive (start_frame, end_frame); transition frames belong to no shot."""
    above = probs > threshold
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
        shots.append((start, len(probs) - 1))
    return shots or [(0, len(probs) - 1)]
