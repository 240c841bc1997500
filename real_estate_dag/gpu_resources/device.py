"""Which torch device to run models on, and how many threads the analysis pass gives each model."""

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch


def choose_device(preference: str = "auto") -> str:
    """``auto`` picks ``cuda`` when a GPU is visible, else ``cpu``; other values are used as given."""
    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {preference!r} was requested but torch sees no CUDA device")
    return preference


@dataclass(frozen=True)
class ThreadPlan:
    """How the analysis pass shares the machine with the decoder's own threads.

    On a CPU the shot model runs one window per thread, with one torch thread each, on as many
    threads as there are cores (windows are independent, so no thread waits on another), and the
    sampled-frame models get a quarter of the cores; on a GPU one thread feeds it batches.
    """

    shot_workers: int
    sample_threads: int


def thread_plan(device: str) -> ThreadPlan:
    if device.startswith("cuda"):
        return ThreadPlan(shot_workers=1, sample_threads=1)
    cores = len(os.sched_getaffinity(0))
    return ThreadPlan(shot_workers=cores, sample_threads=max(1, cores // 4))


def torch_threads(count: int) -> Callable[[], None]:
    """A worker-thread initialiser: the torch CPU threads this thread's operations may use."""
    return lambda: torch.set_num_threads(count)
