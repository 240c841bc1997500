"""Which torch device to run models on, and how many threads the analysis pass gives each model."""

import os
import platform
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


# oneDNN's names for the CPU instruction sets that include bf16 arithmetic (ONEDNN_MAX_CPU_ISA values);
# a lower cap makes oneDNN emulate bf16 with slower AVX-512 code even on a CPU that has it.
_BF16_ISAS = {"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512",
              "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2", "ALL", "DEFAULT"}


def bf16_native(device: str) -> bool:
    """Whether ``device`` runs bf16 natively: a bf16 GPU, or a CPU with AVX512-BF16/AMX that oneDNN may use
    (its ONEDNN_MAX_CPU_ISA cap honoured), or an ARM CPU with bf16. Elsewhere bf16 is emulated, slowly."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if platform.machine().lower() in ("x86_64", "amd64"):
        cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
        return cap in _BF16_ISAS and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


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
