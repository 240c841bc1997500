"""Small signal helpers shared by the analysis steps."""

import numpy as np


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of each column of (N, K) ``values``, edges padded by repetition."""
    half = window // 2
    padded = np.pad(values, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack(
        [np.convolve(padded[:, k], kernel, mode="valid") for k in range(values.shape[1])], axis=1
    )
