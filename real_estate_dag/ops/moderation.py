"""Moderation findings on sampled frames, and which of them block publication."""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

EXPLICIT = ("FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED",
            "ANUS_EXPOSED")
FACES = ("FACE_FEMALE", "FACE_MALE")


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, ...]  # x, y, width, height


@dataclass(frozen=True)
class Finding:
    file: str
    time_s: float | None  # None for a photo
    label: str
    score: float
    box: tuple[int, ...]

    def where(self) -> str:
        return self.file if self.time_s is None else f"{self.file} at {self.time_s:.2f} s"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_classes(text: str) -> tuple[str, ...]:
    """A comma-separated class list; ``none`` (or nothing) is the empty list."""
    names = tuple(n.strip().upper() for n in text.split(",") if n.strip())
    return () if names == ("NONE",) else names


def scan(images: Iterable[tuple[str, float | None, np.ndarray]], detect: Callable[[np.ndarray], list[Detection]],
         min_score: float) -> list[Finding]:
    """Every detection of at least ``min_score`` in ``(file, time or None, RGB image)`` triples."""
    return [Finding(file, time_s, d.label, d.score, d.box)
            for file, time_s, image in images for d in detect(image) if d.score >= min_score]


def blocking(findings: Iterable[Finding], blocked: Iterable[str], min_score: float) -> list[Finding]:
    """The findings whose class is blocked, at or above ``min_score``."""
    names = set(blocked)
    return [f for f in findings if f.label in names and f.score >= min_score]


def block_message(found: list[Finding]) -> str:
    shown = "; ".join(f"{f.where()}: {f.label} {f.score:.2f}" for f in found[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return f"not published: {len(found)} frame(s) or photo(s) show blocked content: {shown}{more}"
