"""A room head: multinomial logistic regression on a room backbone's L2-normalised embeddings, fitted
from labelled photos (``real-estate-dag rooms fit``) and stored as a small safetensors file.

A head need not know every room type: the rooms it was fitted on share the probability the backbone
gives them together, and the others keep the backbone's own (the packaged head knows no exteriors,
so the backbone's object evidence still tells a facade from a room).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from real_estate_dag.ops.rooms import ROOM_TYPES

FORMAT = "real-estate-dag/room-head-v1"
PACKAGED_HEAD = Path(__file__).parent / "heads" / "places365_rooms.safetensors"
# Fitted by `rooms fit` on the places365train__ files of rooms-dev only (README: "Room labels: measure and adapt").
PACKAGED_HEAD_SHA256 = "26e5cbe7bfb23497f205c6894646282559f994af73a29faf813edbec669156b4"
L2_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
FOLDS = 5


class RoomHeadError(ValueError):
    """A room head file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class RoomHead:
    classes: tuple[str, ...]
    weight: np.ndarray  # (K, D) float32
    bias: np.ndarray  # (K,) float32
    backbone: str  # version tag of the backbone whose embeddings it was fitted on
    fit: dict[str, Any] = field(default_factory=dict)  # how it was fitted (the file's metadata)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(B, D) embeddings -> (B, K) probabilities over the head's classes."""
        logits = embeddings.astype(np.float32) @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def apply(self, backbone_probs: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """(B, len(ROOM_TYPES)) room probabilities with the head's rooms re-shared by the head."""
        index = [ROOM_TYPES.index(room) for room in self.classes]
        probs = backbone_probs.copy()
        probs[:, index] = backbone_probs[:, index].sum(axis=1, keepdims=True) * self.probabilities(embeddings)
        return probs

    def save(self, path: Path) -> None:
        save_file({"weight": self.weight, "bias": self.bias}, str(path), metadata={
            "format": FORMAT, "classes": json.dumps(self.classes), "backbone": self.backbone,
            "fit": json.dumps(self.fit)})


def head_backbone(path: Path) -> str:
    """The backbone a head file was fitted on, from its header only."""
    return _metadata(path)["backbone"]


def _metadata(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise RoomHeadError(f"room head file {path} does not exist")
    try:
        with safe_open(str(path), "np") as opened:
            metadata = opened.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise RoomHeadError(f"room head file {path} is not a safetensors file: {exc}") from None
    if metadata.get("format") != FORMAT or "backbone" not in metadata:
        raise RoomHeadError(f"room head file {path} is not a room head (format {metadata.get('format')!r}, "
                            f"expected {FORMAT!r}); make one with: real-estate-dag rooms fit DIR --out FILE")
    return metadata


def load_head(path: Path) -> RoomHead:
    metadata = _metadata(path)
    try:
        with safe_open(str(path), "np") as opened:
            weight, bias = opened.get_tensor("weight"), opened.get_tensor("bias")
        classes = tuple(json.loads(metadata["classes"]))
        fit = json.loads(metadata.get("fit", "{}"))
    except (SafetensorError, KeyError, ValueError) as exc:
        raise RoomHeadError(f"room head file {path}: unreadable weights or metadata ({exc})") from None
    unknown = sorted(set(classes) - set(ROOM_TYPES))
    if unknown or len(set(classes)) != len(classes):
        raise RoomHeadError(f"room head file {path}: classes {list(classes)} must be distinct room types "
                            f"({', '.join(ROOM_TYPES)})")
    if weight.ndim != 2 or weight.shape[0] != len(classes) or bias.shape != (len(classes),):
        raise RoomHeadError(f"room head file {path}: weight {weight.shape} and bias {bias.shape} do not fit "
                            f"{len(classes)} classes")
    return RoomHead(classes, weight.astype(np.float32), bias.astype(np.float32), metadata["backbone"], fit)


def _fit_weights(x: torch.Tensor, y: torch.Tensor, k: int, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-balanced multinomial logistic regression, mean loss + l2/2 |W|^2, by L-BFGS (float64)."""
    counts = torch.bincount(y, minlength=k).double()
    sample_weight = (1.0 / counts)[y]
    weight = torch.zeros(k, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500, tolerance_grad=1e-8, tolerance_change=1e-12,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        losses = torch.nn.functional.cross_entropy(x @ weight.T + bias, y, reduction="none")
        loss = (losses * sample_weight).sum() / sample_weight.sum() + 0.5 * l2 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), bias.detach()


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))


def fit_head(embeddings: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], backbone: str,
             l2: float | None = None) -> RoomHead:
    """Fit a head on (N, D) embeddings with labels indexing ``classes``. Without ``l2`` it is chosen from
    L2_GRID by stratified FOLDS-fold cross-validated balanced accuracy (recorded in ``fit``)."""
    x = torch.from_numpy(np.asarray(embeddings, dtype=np.float64))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    k = len(classes)
    fit: dict[str, Any] = {"images": {c: int((labels == i).sum()) for i, c in enumerate(classes)}}
    if l2 is None:
        folds = _stratified_folds(labels)
        scores = {}
        for candidate in L2_GRID:
            predicted = np.empty_like(labels)
            for fold in range(FOLDS):
                test = folds == fold
                w, b = _fit_weights(x[~test], y[~test], k, candidate)
                predicted[test] = (x[test] @ w.T + b).argmax(1).numpy()
            scores[candidate] = balanced_accuracy(labels, predicted)
        l2 = max(L2_GRID, key=lambda c: (scores[c], c))
        fit["cv_balanced_accuracy"] = {f"{c:g}": round(s, 4) for c, s in scores.items()}
    weight, bias = _fit_weights(x, y, k, l2)
    fit["l2"] = l2
    fit["train_balanced_accuracy"] = round(balanced_accuracy(labels, (x @ weight.T + bias).argmax(1).numpy()), 4)
    return RoomHead(classes, weight.float().numpy(), bias.float().numpy(), backbone, fit)


def _stratified_folds(labels: np.ndarray) -> np.ndarray:
    """A fold number per sample: each class dealt round-robin over FOLDS in a fixed shuffled order."""
    folds = np.empty(len(labels), dtype=np.int64)
    rng = np.random.default_rng(0)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        folds[members] = np.arange(len(members)) % FOLDS
    return folds
