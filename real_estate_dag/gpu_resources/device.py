"""Which torch device to run models on."""

import torch


def choose_device(preference: str = "auto") -> str:
    """``auto`` picks ``cuda`` when a GPU is visible, else ``cpu``; other values are used as given."""
    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {preference!r} was requested but torch sees no CUDA device")
    return preference
