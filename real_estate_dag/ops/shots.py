"""Shot boundaries from per-frame transition probabilities (TransNetV2 conventions).

Frames are fed in windows of 100 that advance by 50; the middle 50 predictions of each window are
kept, and the stream is padded with 25 copies of its first frame and enough copies of its last.
This reproduces ``TransNetV2.predict_frames`` while streaming windows in batches.
"""

from collections.abc import Callable, Iterator

import numpy as np

WINDOW, STEP, PAD = 100, 50, 25
PredictWindows = Callable[[np.ndarray], np.ndarray]


def _windows(frames: np.ndarray) -> Iterator[np.ndarray]:
    n = len(frames)
    tail = PAD + STEP - (n % STEP or STEP)
    padded_len = PAD + n + tail
    for start in range(0, padded_len - WINDOW + 1, STEP):
        idx = np.clip(np.arange(start, start + WINDOW) - PAD, 0, n - 1)
        yield frames[idx]


def transition_probabilities(
    frames: np.ndarray,
    predict: PredictWindows,
    batch_windows: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Per-frame probability that a shot transition happens at that frame."""
    n = len(frames)
    out: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    for window in _windows(frames):
        batch.append(window)
        if len(batch) == batch_windows:
            out.extend(predict(np.stack(batch))[:, PAD : PAD + STEP])
            batch = []
            if progress:
                progress(min(len(out) * STEP, n), n)
    if batch:
        out.extend(predict(np.stack(batch))[:, PAD : PAD + STEP])
    if progress:
        progress(n, n)
    return np.concatenate(out)[:n]


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
