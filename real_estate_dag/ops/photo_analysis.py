"""The photo pass: each uploaded photo read once, measured, labelled, corrected and kept at render size.

Photos go through in chunks: two worker threads decode and correct a chunk (Pillow releases the GIL)
while the room and quality models run on the chunk before, so memory holds a few photos at a time
however many the property has.
"""

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from real_estate_dag.ops import quality
from real_estate_dag.ops.enhance import Upscaler, apply_correction, measure_correction, resize_for_render
from real_estate_dag.ops.kenburns import box_focus, saliency_focus
from real_estate_dag.ops.photos import difference_hash, duplicate_groups, load_photo
from real_estate_dag.ops.rooms import ROOM_ORDER, ROOM_TYPES

ANALYSIS_SHORT_SIDE = 224  # what the room and quality models see, as for sampled video frames
RENDER_SHORT_SIDE = 1440  # a photo with a shorter side is small: super-resolution enlarges it, if set up
RENDER_LONG_SIDE = 2880  # the corrected copy's longest side (1080p frames with room to zoom and pan)
THUMB_WIDTH = 160
CHUNK = 8
NOISE_SCALE = 4.0  # estimated noise sigma (0-255 grey) that halves the noise score
WEIGHTS = {"iqa": 0.35, "sharpness": 0.3, "exposure": 0.2, "noise": 0.15}
HERO_MIN = {"sharpness": 0.4, "exposure": 0.5}
OBJECT_CONFIDENCE = 0.3  # detections below this are dropped (as for video frames)


class RoomClassifier(Protocol):
    def classify(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]: ...


class ObjectDetector(Protocol):
    def detect(self, images: Sequence[Image.Image], confidence: float) -> np.ndarray:
        """Rows of (image index, COCO class index, confidence, x0, y0, x1, y1 relative 0..1)."""
        ...


class QualityScorer(Protocol):
    def score(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def normalise(self, raw: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PhotoInput:
    name: str  # the file as listed, e.g. photos/kitchen.jpg
    path: Path
    sha256: str
    room: str | None = None  # the uploader's label, used instead of the model's
    caption: str = ""


@dataclass
class Prepared:
    """One photo after its worker: the small copies the models read and what was measured on the full one."""

    source: PhotoInput
    width: int
    height: int
    analysis: Image.Image
    before: Image.Image
    after: Image.Image
    correction: dict[str, Any]
    enhanced: Path
    enhanced_size: tuple[int, int]
    upscaled: str
    dhash: int
    saliency: tuple[float, float]
    measures: dict[str, float] = field(default_factory=dict)


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkær's fast noise estimate: the mean absolute response to a Laplacian-difference mask."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    h, w = luma.shape
    response = sum(mask[dy, dx] * luma[dy : h - 2 + dy, dx : w - 2 + dx] for dy in range(3) for dx in range(3))
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def combine(iqa: float, sharp: float, expo: float, noise: float) -> float:
    return float(WEIGHTS["iqa"] * iqa + WEIGHTS["sharpness"] * sharp + WEIGHTS["exposure"] * expo
                 + WEIGHTS["noise"] * noise)


def _short_side(image: Image.Image, side: int) -> Image.Image:
    scale = side / min(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def prepare(photo: PhotoInput, enhanced: Path, upscaler: Upscaler | None) -> Prepared:
    """Decode ``photo`` once (at the render size where JPEG allows), measure it, correct it and save the
    corrected copy as ``enhanced``; the original is only read."""
    image = load_photo(photo.path, photo.name, longest=RENDER_LONG_SIDE)
    analysis = _short_side(image, ANALYSIS_SHORT_SIDE)
    luma = quality.grey(np.asarray(analysis))
    sigma = noise_sigma(luma)
    measures = {"sharpness": quality.sharpness(luma), "exposure": quality.exposure(luma),
                "noise_sigma": sigma, "noise": float(np.exp(-np.log(2) * sigma / NOISE_SCALE))}
    correction = measure_correction(analysis)
    sized, upscaled = resize_for_render(image, RENDER_SHORT_SIDE, RENDER_LONG_SIDE, upscaler)
    corrected = apply_correction(sized, correction)
    enhanced.parent.mkdir(parents=True, exist_ok=True)
    corrected.save(enhanced, "JPEG", quality=93, subsampling=0)
    before = _short_side(analysis, 90)
    return Prepared(photo, image.width, image.height, analysis, before, _short_side(corrected, 90),
                    correction.to_dict(), enhanced, corrected.size, upscaled, difference_hash(analysis),
                    saliency_focus(analysis), measures)


def prepared_photos(photos: Sequence[PhotoInput], folder: Path, upscaler: Upscaler | None,
                    workers: int = 2) -> Iterator[list[Prepared]]:
    """The photos prepared in chunks of ``CHUNK``, the next chunk decoding while the caller uses this one."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photo") as pool:
        def submit(start: int) -> list:
            return [pool.submit(prepare, p, folder / f"{start + i:03d}.jpg", upscaler)
                    for i, p in enumerate(photos[start : start + CHUNK])]

        pending = submit(0)
        for start in range(0, len(photos), CHUNK):
            chunk = [f.result() for f in pending]
            pending = submit(start + CHUNK) if start + CHUNK < len(photos) else []
            yield chunk


def analyse_photos(photos: Sequence[PhotoInput], folder: Path, rooms: RoomClassifier, scorer: QualityScorer,
                   upscaler: Upscaler | None = None, detector: ObjectDetector | None = None,
                   classes: Sequence[str] = ()) -> tuple[list[dict[str, Any]], np.ndarray, list[Prepared]]:
    """Per photo its row (room with confidence and top-3, detected objects (``classes`` names the
    detector's class indexes), the focus point (the largest object, else the saliency estimate),
    measures, score, duplicate group, hero), the embeddings (N, D), and the prepared photos without their
    analysis copies (for the pictures)."""
    rows: list[dict[str, Any]] = []
    embeddings: list[np.ndarray] = []
    kept: list[Prepared] = []
    for chunk in prepared_photos(photos, folder, upscaler):
        probs, embedded = rooms.classify([p.analysis for p in chunk])
        iqa_raw = np.array([scorer.score([p.analysis])[0] for p in chunk])
        iqa = scorer.normalise(iqa_raw)
        found = detector.detect([p.analysis for p in chunk], OBJECT_CONFIDENCE) if detector else np.zeros((0, 7))
        for index, (p, prob, embedding, raw, unit) in enumerate(zip(chunk, probs, embedded, iqa_raw, iqa,
                                                                     strict=True)):
            objects = [{"object": classes[int(cls)], "confidence": round(float(conf), 3),
                        "box": [round(float(v), 4) for v in box]}
                       for image, cls, conf, *box in found.tolist() if int(image) == index]
            focus = box_focus([tuple(o["box"]) for o in objects]) or p.saliency
            order = np.argsort(-prob, kind="stable")
            top3 = [{"room": ROOM_TYPES[i], "p": round(float(prob[i]), 4)} for i in order[:3]]
            model_room = ROOM_TYPES[int(order[0])]
            m = p.measures
            rows.append({
                "file": p.source.name, "width": p.width, "height": p.height,
                "room": p.source.room or model_room,
                "room_from": "manifest" if p.source.room else "model",
                "confidence": 1.0 if p.source.room else round(float(prob[order[0]]), 4),
                "top3": top3, "sharpness": round(m["sharpness"], 4), "exposure": round(m["exposure"], 4),
                "noise_sigma": round(m["noise_sigma"], 3), "noise": round(m["noise"], 4),
                "iqa_raw": None if np.isnan(raw) else round(float(raw), 4), "iqa": round(float(unit), 4),
                "quality": round(combine(float(unit), m["sharpness"], m["exposure"], m["noise"]), 4),
                "objects": objects, "focus": list(focus),
                "focus_from": "objects" if objects else "saliency", "caption": p.source.caption,
                "correction": p.correction,
                "upscaled": p.upscaled, "enhanced_size": list(p.enhanced_size), "dhash": f"{p.dhash:016x}",
                "sha256": p.source.sha256,
            })
            embeddings.append(np.asarray(embedding, dtype=np.float32))
            p.analysis = p.before  # drop the analysis copy: only the thumbnails stay
            kept.append(p)
    groups = duplicate_groups([r["sha256"] for r in rows], [int(r["dhash"], 16) for r in rows])
    for row, group in zip(rows, groups, strict=True):
        row["duplicate_group"] = group
    best_of_group: dict[int, int] = {}
    for i, row in enumerate(rows):
        group = row["duplicate_group"]
        if group not in best_of_group or row["quality"] > rows[best_of_group[group]]["quality"]:
            best_of_group[group] = i
    for i, row in enumerate(rows):
        row["distinct"] = best_of_group[row["duplicate_group"]] == i
        row["hero_candidate"] = bool(row["distinct"] and row["room"] == "exterior" and row["width"] > row["height"]
                                     and row["sharpness"] >= HERO_MIN["sharpness"]
                                     and row["exposure"] >= HERO_MIN["exposure"])
    hero, reason = choose_hero(rows)
    for i, row in enumerate(rows):
        row["hero"] = i == hero
        row["hero_reason"] = reason if i == hero else ""
    dim = embeddings[0].shape[0] if embeddings else 0
    return rows, np.stack(embeddings) if embeddings else np.zeros((0, dim), np.float32), kept


def choose_hero(rows: list[dict[str, Any]]) -> tuple[int | None, str]:
    """The index of the best hero candidate (an exterior, sharp, well exposed, landscape photo); without
    one, the best distinct landscape photo, then the best photo; and why it was chosen."""
    for label, pick in (("exterior, sharp, well exposed, landscape", lambda r: r["hero_candidate"]),
                        ("no exterior photo qualifies: the best landscape photo",
                         lambda r: r["distinct"] and r["width"] > r["height"]),
                        ("no landscape photo: the best photo", lambda r: r["distinct"])):
        chosen = [i for i, r in enumerate(rows) if pick(r)]
        if chosen:
            return max(chosen, key=lambda i: (rows[i]["quality"], -i)), label
    return None, ""


def by_room(rows: list[dict[str, Any]]) -> list[int]:
    """Row indexes in showcase room order, best quality first within a room."""
    return sorted(range(len(rows)), key=lambda i: (ROOM_ORDER.get(rows[i]["room"], len(ROOM_ORDER)),
                                                   -rows[i]["quality"], i))
