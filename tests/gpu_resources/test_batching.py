"""run_batched halves the batch on CUDA out-of-memory and retries, and fails only at batch size 1."""

import logging
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from real_estate_dag.gpu_resources.batching import run_batched


class LimitedDevice:
    """Inference whose device holds at most ``capacity`` items: larger batches raise CUDA OOM."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.attempts: list[int] = []
        self.weights = torch.arange(12, dtype=torch.float32).reshape(4, 3)

    def __call__(self, batch: Sequence[np.ndarray]) -> np.ndarray:
        self.attempts.append(len(batch))
        if len(batch) > self.capacity:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate a batch of {len(batch)}")
        return (torch.from_numpy(np.stack(batch)) @ self.weights).numpy()


def test_oom_halves_the_batch_and_keeps_every_result(caplog: pytest.LogCaptureFixture) -> None:
    items = [np.full(4, i, dtype=np.float32) for i in range(21)]
    device = LimitedDevice(capacity=5)
    with caplog.at_level(logging.WARNING):
        out = run_batched(items, 16, device)
    expected = np.stack(items) @ device.weights.numpy()
    np.testing.assert_allclose(out, expected)
    # 16 and 8 fail, 4 fits; the smaller size is kept for the rest (the last batch holds 1 item).
    assert device.attempts == [16, 8, 4, 4, 4, 4, 4, 1]
    assert [r.getMessage() for r in caplog.records] == [
        "CUDA out of memory; retrying with batch size 8", "CUDA out of memory; retrying with batch size 4"]


def test_oom_at_batch_size_one_fails() -> None:
    device = LimitedDevice(capacity=0)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_batched([np.zeros(4, dtype=np.float32)] * 3, 4, device)
    assert device.attempts == [3, 2, 1]


def test_other_errors_are_not_retried() -> None:
    calls = []

    def broken(batch: Sequence[int]) -> np.ndarray:
        calls.append(len(batch))
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_batched([1, 2, 3, 4], 4, broken)
    assert calls == [4]
