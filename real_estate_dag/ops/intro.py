"""The agent intro: locate the person in the brand portrait, cut them out, and compose an intro card."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from real_estate_dag.ops.moderation import FACES, Detection
from real_estate_dag.ops.render import ASPECT_SIZES, Card, RenderClip, inspect_video
from real_estate_dag.ops.visuals import fit_text
from real_estate_dag.ops.visuals import font as load_font

Box = tuple[int, int, int, int]  # x, y, width, height
MaskFn = Callable[[np.ndarray, Box, Box | None], np.ndarray]


class PortraitError(ValueError):
    """The portrait shows no person to cut out."""


@dataclass(frozen=True)
class Cutout:
    image: Image.Image  # RGBA, the person on a transparent background, cropped to them
    person: Box
    face: Box | None
    located_by: str  # what found the person


def person_from_face(face: Box, width: int, height: int) -> Box:
    """A head-and-shoulders box below and around a face: three face widths wide, from half a face above
    it to the bottom of the picture (portraits are framed from the chest up)."""
    x, y, w, h = face
    left, right = max(0, x - w), min(width, x + 2 * w)
    top = max(0, y - h // 2)
    return left, top, right - left, height - top


def person_boxes(rows: np.ndarray, person_class: int, width: int, height: int) -> list[Box]:
    """The detector's person boxes, from its (image, class, confidence, x0, y0, x1, y1 in 0..1) rows."""
    return [(round(x0 * width), round(y0 * height), round((x1 - x0) * width), round((y1 - y0) * height))
            for _, cls, _, x0, y0, x1, y1 in rows if int(cls) == person_class and x1 > x0 and y1 > y0]


def locate_person(detections: Sequence[Detection], width: int, height: int,
                  people: Sequence[Box] = ()) -> tuple[Box, Box | None, str]:
    """The person's box and face: the largest person box a detector gave (widened to hold the face),
    else one built around the largest face (NudeNet's FACE_* classes), else an error."""
    faces = sorted((d for d in detections if d.label in FACES), key=lambda d: -d.box[2] * d.box[3])
    face = tuple(faces[0].box) if faces else None
    if people:
        x, y, w, h = max(people, key=lambda b: b[2] * b[3])
        if face is not None:
            fx, fy, fw, fh = face
            x0, y0 = min(x, fx), min(y, fy)
            x, y, w, h = x0, y0, max(x + w, fx + fw) - x0, max(y + h, fy + fh) - y0
        return (x, y, w, h), face, "person detector (the registry's detector capability)"
    if face is None:
        raise PortraitError("the portrait shows no face, so no person to cut out")
    return person_from_face(face, width, height), face, "face box (NudeNet)"


def cut_out(portrait: Image.Image, detections: Sequence[Detection], mask: MaskFn, people: Sequence[Box] = ()) -> Cutout:
    rgb = np.asarray(ImageOps.exif_transpose(portrait).convert("RGB"))
    height, width = rgb.shape[:2]
    person, face, located_by = locate_person(detections, width, height, people)
    alpha = np.clip(mask(rgb, person, face), 0.0, 1.0)
    ys, xs = np.nonzero(alpha > 0.5)
    if not len(xs):
        raise PortraitError("background removal left nothing of the person in the portrait")
    rgba = np.dstack([rgb, (alpha * 255).astype(np.uint8)])
    crop = Image.fromarray(rgba, "RGBA").crop((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    return Cutout(crop, person, face, located_by)


def hex_colour(text: str, default: tuple[int, int, int] = (29, 53, 87)) -> tuple[int, int, int]:
    value = text.strip().lstrip("#")
    if len(value) != 6:
        return default
    try:
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        return default


def draw_intro_card(cutout: Cutout, lines: Sequence[str], size: tuple[int, int], out: Path,
                    colour: tuple[int, int, int] = (29, 53, 87)) -> Path:
    """The cut-out agent standing on the brand colour, their name and contact lines beside them."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = 0.55 + 0.45 * (1 - y / height)
        draw.line([(0, y), (width, y)], fill=tuple(int(c * shade) for c in colour))
    portrait = cutout.image.copy()
    portrait.thumbnail((int(width * (0.45 if width > height else 0.8)), int(height * 0.8)), Image.Resampling.LANCZOS)
    landscape = width > height
    px = int(width * 0.08) if landscape else (width - portrait.width) // 2
    image.paste(portrait, (px, height - portrait.height), portrait)
    unit = min(width, height)
    fonts = [load_font(max(20, unit // 14))] + [load_font(max(14, unit // 26))] * (len(lines) - 1)
    left = px + portrait.width + unit // 20 if landscape else width // 10
    room = width - left - width // 20 if landscape else int(width * 0.8)
    rows = [fit_text(draw, line, f, room) for line, f in zip(lines, fonts, strict=True)]
    heights = [draw.textbbox((0, 0), row, font=f)[3] for row, f in zip(rows, fonts, strict=True)]
    y = (height - sum(heights) - unit // 40 * len(rows)) // 2 if landscape else height // 12
    for row, f, row_height in zip(rows, fonts, heights, strict=True):
        draw.text((left, y), row, font=f, fill=(255, 255, 255))
        y += row_height + unit // 40
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


def intro_items(cutout: Path | None, talk: Path | None, duration_s: float, lines: Sequence[str],
                colour: tuple[int, int, int], aspects: Sequence[str], folder: Path) -> dict[str, Card | RenderClip]:
    """Per aspect, what opens the branded showcase: the D-ID clip when there is one, else the intro card."""
    if talk is not None:
        video = inspect_video(talk)
        clip = RenderClip(talk, 0.0, video.duration_s, bool(video.audio_codec), video.width / video.height,
                          voice=True)
        return dict.fromkeys(aspects, clip)
    if cutout is None:
        return {}
    with Image.open(cutout) as opened:
        image = opened.convert("RGBA")
    person = Cutout(image, (0, 0, image.width, image.height), None, "")
    return {aspect: Card(draw_intro_card(person, lines, ASPECT_SIZES[aspect],
                                         folder / f"intro_{aspect.replace(':', 'x')}.png", colour), duration_s)
            for aspect in aspects}
