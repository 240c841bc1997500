"""The opening title card: the listing facts over the hero frame (or a gradient when there is none).

The title card carries no agent or brokerage text (those are on the closing card), so the branded
and the unbranded render share it.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.text_layout import draw_block, fit_block


def listing_lines(listing: Listing, property_id: str) -> tuple[str, list[str]]:
    """Headline and detail lines, in the listing's own casing; facts the listing does not give are left
    out, not invented."""
    headline = listing.address or property_id
    facts = []
    if listing.price is not None:
        facts.append(f"${listing.price:,.0f}")
    if listing.bedrooms is not None:
        facts.append(f"{listing.bedrooms:g} bed")
    if listing.bathrooms is not None:
        facts.append(f"{listing.bathrooms:g} bath")
    if listing.square_feet is not None:
        facts.append(f"{listing.square_feet:,.0f} sq ft")
    lines = [" · ".join(facts)] if facts else []
    if kind := listing.property_type:
        lines.append(kind[0].upper() + kind[1:])  # "house" -> "House"; the rest as the user wrote it
    return headline, lines


def backdrop(size: tuple[int, int], hero: Image.Image | None) -> Image.Image:
    """The hero frame filling ``size``, darkened so white text reads on it; else a navy gradient."""
    width, height = size
    if hero is not None:
        image = ImageOps.fit(hero.convert("RGB"), size, Image.Resampling.LANCZOS)
        return ImageEnhance.Brightness(image).enhance(0.45)
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # vertical gradient, navy to near-black
        shade = 1 - y / height
        draw.line([(0, y), (width, y)], fill=(int(18 + 22 * shade), int(28 + 30 * shade), int(48 + 50 * shade)))
    return image


def draw_text_rows(image: Image.Image, rows: list[tuple[str, int, tuple[int, int, int], int]]) -> None:
    """Rows of (text, font size, colour, most lines), each fitted to 90% of the width, centred together."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    box = int(width * 0.9)
    blocks = [(fit_block(draw, text, box, size, max_lines=lines), colour) for text, size, colour, lines in rows if text]
    gap = min(width, height) // 30
    y = (height - sum(b.height for b, _ in blocks) - gap * (len(blocks) - 1)) / 2
    for block, colour in blocks:
        y = draw_block(draw, block, (width - box) / 2, y, box, colour) + gap


def draw_title_card(listing: Listing, property_id: str, size: tuple[int, int], out: Path,
                    hero: Image.Image | None = None) -> Path:
    headline, lines = listing_lines(listing, property_id)
    unit = min(size)
    image = backdrop(size, hero)
    draw_text_rows(image, [(headline, max(24, unit // 12), (255, 255, 255), 3),
                           *((line, max(16, unit // 24), (225, 232, 240), 2) for line in lines)])
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out
