"""Measure a room model on labelled photos, and collect their embeddings to fit a head.

A labelled folder holds ``DIR/<room>/<photo>``: folder names are the pipeline's room types, and
``hallway`` counts as ``other``. Photos are read a batch at a time, never all at once.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from real_estate_dag.gpu_resources.backends import RoomModel
from real_estate_dag.gpu_resources.detector import DetectorModel
from real_estate_dag.ops.evidence import EvidenceSettings, frame_objects, fused_probabilities
from real_estate_dag.ops.rooms import ROOM_TYPES

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
ALIASES = {"hallway": "other"}
DRAFT_SIZE = (512, 512)  # JPEGs decode at the smallest DCT scale still at least this big (the models use 224)

Progress = Callable[[int, int], None]


class LabelledFolderError(ValueError):
    """A labelled photo folder that cannot be used; the message names the folder or file."""


@dataclass(frozen=True)
class ObjectEvidence:
    """A detector whose objects' evidence is fused into the room probabilities, as in the pipeline."""

    detector: DetectorModel
    confidence: float
    settings: EvidenceSettings


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    room: str


def labelled_photos(root: Path) -> list[LabelledPhoto]:
    """The photos under ``root/<room>/``, by room folder then name; unknown folders are an error."""
    if not root.is_dir():
        raise LabelledFolderError(f"{root} is not a folder of room folders")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    unknown = [f.name for f in folders if f.name not in ROOM_TYPES and f.name not in ALIASES]
    if unknown:
        raise LabelledFolderError(f"{root}: unknown room folders {', '.join(unknown)}; expected "
                                  f"{', '.join(ROOM_TYPES)} (hallway counts as other)")
    photos = [LabelledPhoto(p, ALIASES.get(f.name, f.name)) for f in folders for p in sorted(f.iterdir())
              if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES]
    if not photos:
        raise LabelledFolderError(f"{root}: no photos ({', '.join(sorted(PHOTO_SUFFIXES))}) in room folders")
    return photos


def open_photo(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.draft("RGB", DRAFT_SIZE)
            return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise LabelledFolderError(f"{path}: not a readable image ({exc})") from None


def classified(model: RoomModel, photos: list[LabelledPhoto], batch_size: int, progress: Progress,
               objects: ObjectEvidence | None = None) -> Iterator[tuple[list[LabelledPhoto], np.ndarray, np.ndarray]]:
    """Each batch of photos with the model's room probabilities (fused with ``objects``' evidence when
    given) and embeddings for it."""
    for start in range(0, len(photos), batch_size):
        batch = photos[start:start + batch_size]
        images = [open_photo(p.path) for p in batch]
        probs, embeddings = model.classify(images)
        if objects is not None:
            seen = frame_objects(objects.detector.detect(images, objects.confidence), len(images))
            probs, _ = fused_probabilities(probs, embeddings, seen, None, objects.settings)
        yield batch, probs, embeddings
        progress(start + len(batch), len(photos))


@dataclass(frozen=True)
class Evaluation:
    classes: tuple[str, ...]  # the true rooms present, in ROOM_TYPES order
    confusion: np.ndarray  # (len(classes), len(ROOM_TYPES)) photo counts: true room x predicted room

    def recall(self) -> np.ndarray:
        rows = [ROOM_TYPES.index(c) for c in self.classes]
        return self.confusion[np.arange(len(rows)), rows] / self.confusion.sum(axis=1)

    def balanced_accuracy(self) -> float:
        return float(self.recall().mean())

    def report(self) -> list[str]:
        """Per-class recall, the confusion matrix and, last, the balanced accuracy line."""
        total = int(self.confusion.sum())
        width = max(len("true \\ predicted"), *(len(c) for c in self.classes))
        lines = [f"{'class'.ljust(width)}  images  correct  recall"]
        for room, row, recall in zip(self.classes, self.confusion, self.recall(), strict=True):
            lines.append(f"{room.ljust(width)}  {int(row.sum()):6d}  {int(row[ROOM_TYPES.index(room)]):7d}  "
                         f"{recall:6.3f}")
        lines += ["", "confusion matrix (rows: true room, columns: predicted room)",
                  "  ".join(["true \\ predicted".ljust(width), *ROOM_TYPES])]
        for room, row in zip(self.classes, self.confusion, strict=True):
            lines.append("  ".join([room.ljust(width), *(str(int(n)).rjust(len(r)) for n, r in zip(
                row, ROOM_TYPES, strict=True))]))
        return [*lines, "", f"balanced accuracy {self.balanced_accuracy():.3f} over {total} images in "
                            f"{len(self.classes)} classes"]


def evaluate(model: RoomModel, photos: list[LabelledPhoto], batch_size: int, progress: Progress,
             objects: ObjectEvidence | None = None) -> Evaluation:
    classes = tuple(r for r in ROOM_TYPES if r in {p.room for p in photos})
    confusion = np.zeros((len(classes), len(ROOM_TYPES)), dtype=np.int64)
    for batch, probs, _ in classified(model, photos, batch_size, progress, objects):
        for photo, predicted in zip(batch, probs.argmax(axis=1), strict=True):
            confusion[classes.index(photo.room), predicted] += 1
    return Evaluation(classes, confusion)


def embeddings_and_labels(model: RoomModel, photos: list[LabelledPhoto], batch_size: int,
                          progress: Progress) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(N, D) embeddings, (N,) labels indexing the rooms present (in ROOM_TYPES order), those rooms."""
    classes = tuple(r for r in ROOM_TYPES if r in {p.room for p in photos})
    if len(classes) < 2:
        raise LabelledFolderError(f"{photos[0].path.parent.parent}: a head needs photos of at least two rooms, "
                                  f"found only {', '.join(classes)}")
    embeddings = [e for _, _, e in classified(model, photos, batch_size, progress)]
    return np.concatenate(embeddings), np.array([classes.index(p.room) for p in photos]), classes
