"""Classical quality measures: sharpness, exposure and camera stability, and how they combine."""

import numpy as np

from real_estate_dag.ops.signal import moving_average

SHARPNESS_SCALE = 200.0  # Laplacian variance (0-255 grey, ~224 px frames) that counts as fairly sharp
JITTER_SCALE = 0.35  # shot-stream pixels of frame-to-frame shake that halve the stability score
WEIGHTS = {"iqa": 0.35, "sharpness": 0.25, "exposure": 0.2, "stability": 0.2}


def grey(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an (H, W, 3) uint8 image as float32 0-255."""
    return image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sharpness(luma: np.ndarray) -> float:
    """0..1 from the variance of the 4-neighbour Laplacian."""
    lap = (
        -4 * luma[1:-1, 1:-1] + luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:]
    )
    return float(1.0 - np.exp(-lap.var() / SHARPNESS_SCALE))


def exposure(luma: np.ndarray) -> float:
    """0..1: mid-grey mean brightness and few clipped pixels score high."""
    mean = luma.mean() / 255.0
    clipped = float(((luma < 4) | (luma > 251)).mean())
    return float(max(0.0, 1.0 - 2.0 * abs(mean - 0.47)) * (1.0 - clipped))


def frame_motion(shot_stream: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Global (dy, dx) translation between consecutive shot-stream frames, by phase correlation.

    Returns an (N, 2) array; row i is the motion from frame i-1 to i (row 0 is zero).
    """
    n = len(shot_stream)
    motion = np.zeros((n, 2), dtype=np.float32)
    h, w = shot_stream.shape[1:3]
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    previous_fft = None
    for start in range(0, n, chunk):
        g = np.stack([grey(f) for f in shot_stream[start : start + chunk]])
        g = (g - g.mean(axis=(1, 2), keepdims=True)) * window
        spectra = np.fft.fft2(g)
        spectra_pairs = np.concatenate([previous_fft[None], spectra]) if previous_fft is not None else spectra
        cross = spectra_pairs[1:] * np.conj(spectra_pairs[:-1])
        cross /= np.abs(cross) + 1e-6
        corr = np.fft.ifft2(cross).real
        flat = corr.reshape(len(corr), -1).argmax(axis=1)
        dy, dx = np.unravel_index(flat, (h, w))
        dy = np.where(dy > h // 2, dy - h, dy).astype(np.float32)
        dx = np.where(dx > w // 2, dx - w, dx).astype(np.float32)
        offset = start if previous_fft is not None else 1
        motion[offset : offset + len(corr)] = np.stack([dy, dx], axis=1)
        previous_fft = spectra[-1]
    return motion


def stability(motion: np.ndarray, fps: float, centres: np.ndarray, shots: list[tuple[int, int]]) -> np.ndarray:
    """0..1 per centre frame: smooth pans score high, shake scores low.

    Shake is the motion left after removing its half-second moving average, measured within the
    shot only (a cut is not camera motion).
    """
    half = max(1, round(fps / 4))
    scores = np.ones(len(centres), dtype=np.float32)
    shot_of = np.zeros(len(motion), dtype=np.int64)
    for i, (start, end) in enumerate(shots):
        shot_of[start : end + 1] = i
    for k, centre in enumerate(centres):
        start, end = shots[shot_of[centre]]
        lo, hi = max(start + 1, centre - 2 * half), min(end, centre + 2 * half)
        if hi - lo < 3:
            continue
        segment = motion[lo : hi + 1]
        smooth = moving_average(segment, 2 * half + 1)
        jitter = float(np.sqrt(((segment - smooth) ** 2).sum(axis=1).mean()))
        scores[k] = np.exp(-np.log(2) * jitter / JITTER_SCALE)
    return scores


def combine(iqa: float, sharp: float, expo: float, stable: float) -> float:
    return float(
        WEIGHTS["iqa"] * iqa
        + WEIGHTS["sharpness"] * sharp
        + WEIGHTS["exposure"] * expo
        + WEIGHTS["stability"] * stable
    )
