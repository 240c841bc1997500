"""The closing card, the clip overlays (room lower thirds, corner logo) and what each card shows.

Every card is drawn from a ``CardContent``: its texts and the names of its pictures. The unbranded
render's cards are checked on that data (``agent_leaks``), so a field that is not in the content
cannot be on the card.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageOps

from real_estate_dag.ops.manifest import Brand, Colors, Listing
from real_estate_dag.ops.text_layout import draw_block, fit_block
from real_estate_dag.ops.titlecard import listing_lines

PORTRAIT, LOGO, QR_CODE = "agent_portrait", "logo", "qr code"
BRAND_PICTURES = (PORTRAIT, LOGO, QR_CODE)
NEUTRAL = Colors()  # the unbranded render's colours: the defaults, never the brand's


@dataclass(frozen=True)
class CardContent:
    name: str
    texts: tuple[str, ...] = ()
    pictures: tuple[str, ...] = ()  # PORTRAIT, LOGO, QR_CODE
    qr_text: str = ""  # what the QR code encodes


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def closing_content(listing: Listing, brand: Brand, property_id: str, branded: bool) -> CardContent:
    """The agent's contact card when ``branded`` and the brand names an agent or brokerage; otherwise
    the listing's headline and facts."""
    if branded and (brand.agent_name or brand.brokerage or brand.agent_phone or brand.agent_email):
        contact = " · ".join(t for t in (brand.agent_phone, brand.agent_email) if t)
        texts = (brand.agent_name, f"Licence {brand.agent_licence}" if brand.agent_licence else "", contact,
                 brand.brokerage)
        pictures = tuple(p for p, present in ((PORTRAIT, brand.agent_portrait), (LOGO, brand.logo),
                                              (QR_CODE, brand.listing_url)) if present)
        return CardContent("closing", texts, pictures, brand.listing_url)
    headline, lines = listing_lines(listing, property_id)
    return CardContent("closing", (headline, *lines))


def overlay_content(caption: str, logo: bool) -> CardContent:
    return CardContent("overlay", (caption,) if caption else (), (LOGO,) if logo else ())


def agent_leaks(contents: list[CardContent], brand: Brand) -> list[str]:
    """What of the agent and brokerage ``contents`` would show: texts, portrait, logo or QR code."""
    problems = []
    fields = brand.agent_texts()
    for content in contents:
        shown = [t.casefold() for t in (*content.texts, content.qr_text) if t]
        for field in fields:
            if any(field.casefold() in text for text in shown):
                problems.append(f"{content.name} card shows {field!r}")
        problems += [f"{content.name} card shows the {p}" for p in content.pictures if p in BRAND_PICTURES]
    return problems


def qr_image(text: str, side: int) -> Image.Image:
    """A QR code of ``text`` (error correction M) with its quiet zone, ``side`` pixels square."""
    matrix = np.array(segno.make(text, error="m", micro=False).matrix, dtype=bool)
    matrix = np.pad(matrix, 4)
    picture = Image.fromarray(np.where(matrix, 0, 255).astype(np.uint8), "L")
    return picture.resize((side, side), Image.Resampling.NEAREST).convert("RGB")


def _fit_picture(path: Path, box: int) -> Image.Image:
    with Image.open(path) as image:
        picture = ImageOps.exif_transpose(image).convert("RGBA")
    picture.thumbnail((box, box), Image.Resampling.LANCZOS)
    return picture


def _round_portrait(path: Path, side: int) -> Image.Image:
    with Image.open(path) as image:
        picture = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (side, side), Image.Resampling.LANCZOS)
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    picture.putalpha(mask)
    return picture


def draw_closing_card(content: CardContent, size: tuple[int, int], out: Path, colors: Colors,
                      files: dict[str, Path]) -> Path:
    """``content`` on the ``colors`` background: logo, round portrait, the texts, and the QR code in
    the lower right; ``files`` holds the pictures named in ``content.pictures``."""
    width, height = size
    unit = min(size)
    image = Image.new("RGB", size, _rgb(colors.primary))
    draw = ImageDraw.Draw(image)
    ink, accent = _rgb(colors.text), _rgb(colors.accent)
    box = int(width * 0.8)
    stack: list[tuple[str, object]] = []
    if LOGO in content.pictures:
        stack.append(("picture", _fit_picture(files[LOGO], unit // 8)))
    if PORTRAIT in content.pictures:
        stack.append(("picture", _round_portrait(files[PORTRAIT], unit // 4)))
    sizes = [unit // 13, unit // 30, unit // 24, unit // 26]
    for i, text in enumerate(t for t in content.texts):
        if text:
            stack.append(("text", fit_block(draw, text, box, sizes[min(i, len(sizes) - 1)], max_lines=2)))
    gap = unit // 32
    heights = [item.height if kind == "text" else item.size[1] for kind, item in stack]  # type: ignore[union-attr]
    y = (height - sum(heights) - gap * (len(stack) - 1)) / 2
    first_text = True
    for kind, item in stack:
        if kind == "picture":
            assert isinstance(item, Image.Image)
            image.paste(item, (int((width - item.size[0]) / 2), int(y)), item)
            y += item.size[1] + gap
        else:
            y = draw_block(draw, item, (width - box) / 2, y, box, ink) + gap  # type: ignore[arg-type]
            if first_text:  # a rule under the name
                draw.line([(width / 2 - unit / 10, y - gap / 2), (width / 2 + unit / 10, y - gap / 2)], fill=accent,
                          width=max(2, unit // 270))
                first_text = False
    if QR_CODE in content.pictures and content.qr_text:
        side = unit // 5
        margin = unit // 24
        image.paste(qr_image(content.qr_text, side), (width - side - margin, height - side - margin))
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


def draw_overlay(content: CardContent, size: tuple[int, int], out: Path, files: dict[str, Path]) -> Path:
    """A transparent full-frame picture: the room caption as a lower third, the logo in the top right."""
    width, height = size
    unit = min(size)
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if content.texts:
        block = fit_block(draw, content.texts[0], int(width * 0.6), unit // 22, max_lines=1)
        pad = unit // 60
        text_width = max(draw.textlength(line, font=block.font) for line in block.lines)
        left, bottom = unit // 20, height - unit // 12
        top = bottom - block.height - 2 * pad
        draw.rectangle((left, top, left + text_width + 2 * pad, bottom), fill=(0, 0, 0, 150))
        draw_block(draw, block, left + pad, top + pad, int(text_width), (255, 255, 255, 255), align="left")
    if LOGO in content.pictures:
        logo = _fit_picture(files[LOGO], unit // 9)
        margin = unit // 30
        image.alpha_composite(logo, (width - logo.size[0] - margin, margin))
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


def draw_black(size: tuple[int, int], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(out)
    return out
