"""detected_objects: what the detector found in each video's sampled frames, as the asset's value, its
published table and the UI's pictures (frames with their boxes drawn, the objects of each shot)."""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from real_estate_dag.gpu_resources.detector import COCO_CLASSES, COLUMNS
from real_estate_dag.ops.analysis import DetectSettings, VideoPass
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.reports import Picture, Report
from real_estate_dag.ops.visuals import ROOM_COLOURS, contact_sheet, font, pick_evenly

SHEET_FRAMES = 12
# rows of the value's per-video "detections": the sampled frame, its time, then COLUMNS after "image"
VALUE_COLUMNS = ("sample", "time_s", "object", "confidence", "x0", "y0", "x1", "y1")


def detection_rows(detections: np.ndarray, decoded: DecodedVideo) -> list[list[Any]]:
    rows = []
    for sample, cls, confidence, *box in detections.tolist():
        rows.append([int(sample), decoded.sampled[int(sample)].time_s, COCO_CLASSES[int(cls)], round(confidence, 3),
                     *(round(v, 4) for v in box)])
    return rows


def detections_array(rows: list[list[Any]]) -> np.ndarray:
    """The detections of a stored value's video entry, as rows of ``detector.COLUMNS``."""
    if not rows:
        return np.zeros((0, len(COLUMNS)), dtype=np.float32)
    return np.array([[r[0], COCO_CLASSES.index(r[2]), *r[3:]] for r in rows], dtype=np.float32)


def summary_of(objects: Counter[str], limit: int = 8) -> str:
    return ", ".join(f"{name} x{count}" for name, count in objects.most_common(limit))


def boxed(image: Image.Image, rows: list[list[Any]]) -> Image.Image:
    """A sampled frame with its detections drawn and labelled."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    typeface = font(10)
    for i, (_, _, name, confidence, x0, y0, x1, y1) in enumerate(rows):
        colour = ROOM_COLOURS[i % len(ROOM_COLOURS)]
        box = (x0 * image.width, y0 * image.height, x1 * image.width, y1 * image.height)
        draw.rectangle(box, outline=colour, width=2)
        draw.text((box[0] + 3, box[1] + 2), f"{name} {confidence:.2f}", fill=colour, font=typeface)
    return image


def objects_report(passes: Sequence[VideoPass], shots: Sequence[list[list[int]]] | None, backend: str, device: str,
                   settings: DetectSettings, seconds: float) -> Report:
    """detected_objects from each pass's detections; ``shots`` (per video, when known) group them per shot."""
    videos, table, per_shot, framed = [], [], [], []
    totals: Counter[str] = Counter()
    for index, p in enumerate(passes):
        rows = detection_rows(p.samples["detections"], p.decoded)
        videos.append({"name": p.name, "detections": rows})
        totals.update(r[2] for r in rows)
        table.extend({"video": p.name, **dict(zip(VALUE_COLUMNS, r, strict=True)),
                      "frame": p.decoded.sampled[r[0]].index} for r in rows)
        by_sample: dict[int, list[list[Any]]] = {}
        for r in rows:
            by_sample.setdefault(r[0], []).append(r)
        framed.extend((p.decoded, sample, found) for sample, found in by_sample.items())
        for shot, (start, end) in enumerate(shots[index] if shots else []):
            inside = Counter(r[2] for r in rows if start <= p.decoded.sampled[r[0]].index <= end)
            per_shot.append({"video": p.name, "shot": shot, "objects": summary_of(inside) or "(none)"})
    # the frames with the most objects, in time order, boxes drawn
    busiest = sorted(sorted(framed, key=lambda f: -len(f[2]))[:SHEET_FRAMES * 4], key=lambda f: f[1])
    sheet = [(boxed(decoded.sampled_image(decoded.sampled[sample]), found),
              f"{decoded.sampled[sample].time_s:.1f} s · {len(found)}") for decoded, sample, found in
             pick_evenly(busiest, SHEET_FRAMES)]
    frames = sum(len(p.decoded.sampled[::settings.stride]) for p in passes)
    metadata: dict[str, Any] = {
        "detection_count": len(table),
        "frames_detected": frames,
        "objects_found": summary_of(totals, 20) or "(none)",
        "objects": [{"object": name, "detections": count,
                     "frames": len({(r["video"], r["sample"]) for r in table if r["object"] == name})}
                    for name, count in totals.most_common()],
    }
    if per_shot:
        metadata["objects_per_shot"] = per_shot
    if sheet:
        metadata["detections"] = Picture(contact_sheet(sheet, columns=4, thumb_width=240), "detected objects",
                                         caption=f"Sampled frames with the most objects, boxes drawn (of {frames} "
                                         f"frames the detector saw: every {settings.stride}. sampled frame).")
    return Report(
        value={"backend": backend, "stride": settings.stride, "confidence": settings.confidence,
               "columns": list(VALUE_COLUMNS), "videos": videos},
        summary=f"detected_objects: {counted(len(videos), 'video')}, {counted(len(table), 'detection')} in {frames} "
                f"sampled frames ({summary_of(totals, 5) or 'nothing'}), backend {backend} on {device}, "
                f"pass of {seconds:.1f} s",
        metadata=metadata,
        table=table,
    )
