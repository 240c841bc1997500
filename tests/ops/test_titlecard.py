"""Text on the title card and the UI pictures: every character is drawn with a real glyph, in the
user's own casing."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.titlecard import draw_title_card, listing_lines
from real_estate_dag.ops.visuals import drawable, font

ADDRESS = "Église Saint-Zoë, 12 Rue de l'Été"
UNMAPPED = "\U000f0000"  # a private-use code point no font maps: it draws as the missing-glyph box


def boxes(text: str, size: int) -> list[str]:
    """The characters of ``text`` that ``font(size)`` draws as its missing-glyph box."""
    typeface = font(size)
    box = typeface.getmask(UNMAPPED)
    missing = bytes(box), box.size
    return [c for c in text if not c.isspace() and (bytes(m := typeface.getmask(c)), m.size) == missing]


@pytest.mark.parametrize("text", [ADDRESS, "Straße 5, Zürich", "Ñandú 7, Mañana", "Улица 3", "רחוב הרצל 12"])
def test_accented_and_other_scripts_have_real_glyphs(text: str) -> None:
    assert drawable(text) == text
    assert boxes(text, 90) == []


def test_emoji_and_marks_are_left_out_rather_than_boxed() -> None:
    text = drawable("Maison 🏠 Zoë\u200f\nsecond line\x1b")
    assert text == "Maison Zoë\u200f second line"
    assert boxes(text, 45) == []


def test_the_title_card_keeps_the_users_casing_and_draws_every_letter(tmp_path: Path) -> None:
    listing = Listing(address=ADDRESS, property_type="<b>house</b> at https://Example.com/Tour")
    headline, lines = listing_lines(listing, "p")
    assert headline == ADDRESS and lines == ["<b>house</b> at https://Example.com/Tour"]
    card = draw_title_card(listing, "p", (1920, 1080), tmp_path / "title.png")
    pixels = np.asarray(Image.open(card).convert("L"), dtype=np.float32)
    assert (pixels > 200).mean() > 0.002  # white headline text is drawn
    assert boxes(headline + lines[0], 1080 // 12) == []
