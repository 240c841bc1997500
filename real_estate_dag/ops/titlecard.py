"""The opening title card, drawn from the listing facts."""

from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.visuals import fit_text
from real_estate_dag.ops.visuals import font as load_font


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
    agent = " · ".join(part for part in (listing.agent.name, listing.agent.phone) if part)
    if agent:
        lines.append(agent)
    return headline, lines


def draw_title_card(listing: Listing, property_id: str, size: tuple[int, int], out: Path,
                    background: Path | None = None) -> Path:
    """The title card at ``size``: the listing's lines over a navy gradient, or over the photo
    ``background`` (filling the frame, darkened so the text reads)."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # vertical gradient, navy to near-black
        shade = 1 - y / height
        draw.line([(0, y), (width, y)], fill=(int(18 + 22 * shade), int(28 + 30 * shade), int(48 + 50 * shade)))
    if background is not None:
        with Image.open(background) as photo:
            filled = ImageOps.fit(photo.convert("RGB"), size, Image.Resampling.LANCZOS)
        image = Image.blend(filled, image, 0.45)
        draw = ImageDraw.Draw(image)
    headline, lines = listing_lines(listing, property_id)
    unit = min(width, height)
    title_font = load_font(max(24, unit // 12))
    body_font = load_font(max(16, unit // 24))
    headline = fit_text(draw, headline, title_font, int(width * 0.9))
    rows = [(headline, title_font, (255, 255, 255))]
    rows += [(fit_text(draw, line, body_font, int(width * 0.9)), body_font, (210, 220, 235)) for line in lines]
    heights = [draw.textbbox((0, 0), text, font=font)[3] for text, font, _ in rows]
    gap = unit // 30
    y = (height - sum(heights) - gap * (len(rows) - 1)) // 2
    for (text, font, colour), row_height in zip(rows, heights, strict=True):
        text_width = draw.textlength(text, font=font)
        draw.text(((width - text_width) / 2, y), text, font=font, fill=colour)
        y += row_height + gap
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out

