"""Batched inference that halves the batch on CUDA out-of-memory instead of failing outright."""

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_batched(
    items: Sequence[T], batch_size: int, infer: Callable[[Sequence[T]], np.ndarray]
) -> np.ndarray:
    """Apply ``infer`` to consecutive batches and concatenate the results along axis 0."""
    if len(items) == 0:
        raise ValueError("run_batched needs at least one item")
    outputs: list[np.ndarray] = []
    start = 0
    size = max(1, batch_size)
    while start < len(items):
        batch = items[start : start + size]
        try:
            outputs.append(infer(batch))
        except torch.OutOfMemoryError:
            if size == 1:
                raise
            size //= 2
            torch.cuda.empty_cache()
            log.warning("CUDA out of memory; retrying with batch size %d", size)
            continue
        start += len(batch)
    return np.concatenate(outputs, axis=0)
