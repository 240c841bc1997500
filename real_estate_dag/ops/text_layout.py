"""Text laid out to fit a box on the cards: wrapped at spaces (or between characters for scripts
written without them), shrunk until it fits, cut with an ellipsis only at the smallest size.

Glyphs come from DejaVu Sans (matplotlib's copy: Latin, Greek, Cyrillic, Hebrew, Arabic) or, for
text it has no glyphs for (Chinese, Japanese, Korean), the first installed fallback font that has
them (Debian's fonts-droid-fallback, installed by scripts/setup). Pillow lays text out with raqm
when its wheel has it: right-to-left scripts are ordered and Arabic letters joined.
"""

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageDraw, ImageFont, features

from real_estate_dag.ops.visuals import font_file

FALLBACK_FONTS = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
ELLIPSIS = "…"


@dataclass(frozen=True)
class TextBlock:
    lines: tuple[str, ...]
    font: ImageFont.FreeTypeFont
    line_height: int

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def layout_engine() -> ImageFont.Layout:
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


@cache
def _covered(path: Path) -> frozenset[int]:
    with TTFont(path, lazy=True, fontNumber=0) as face:
        return frozenset(face["cmap"].getBestCmap())


def _fonts() -> list[Path]:
    return [font_file(), *(p for p in FALLBACK_FONTS if p.exists())]


def _drawable_chars(text: str) -> str:
    """NFC, control and format characters (bidi overrides, zero-width joiners outside a font) as the
    cards show them: controls become spaces, unknown format marks are dropped."""
    text = unicodedata.normalize("NFC", text)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def font_for(text: str) -> Path:
    """The first font that has a glyph for every visible character of ``text``, else the one that has most."""
    visible = [ord(c) for c in text if not c.isspace()]
    fonts = _fonts()
    counts = [sum(1 for c in visible if c in _covered(f)) for f in fonts]
    for path, count in zip(fonts, counts, strict=True):
        if count == len(visible):
            return path
    return fonts[max(range(len(fonts)), key=lambda i: counts[i])]


def drawable_in(text: str, path: Path) -> str:
    """``text`` without the characters ``path`` cannot draw (they would show as boxes), spaces collapsed."""
    covered = _covered(path)
    return " ".join("".join(c for c in _drawable_chars(text) if ord(c) in covered or c.isspace()).split())


@cache
def typeface(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, layout_engine=layout_engine())


def _width(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont) -> float:
    return draw.textlength(text, font=face)


def _break_word(draw: ImageDraw.ImageDraw, word: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    parts, current = [], ""
    for char in word:
        if current and _width(draw, current + char, face) > width:
            parts.append(current)
            current = char
        else:
            current += char
    return [*parts, current] if current else parts


def _wrap(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        pieces = [word] if _width(draw, word, face) <= width else _break_word(draw, word, face, width)
        for piece in pieces:
            joined = f"{current} {piece}" if current else piece
            if current and _width(draw, joined, face) > width:
                lines.append(current)
                current = piece
            else:
                current = joined
    return [*lines, current] if current else lines


def _ellipsised(draw: ImageDraw.ImageDraw, line: str, face: ImageFont.FreeTypeFont, width: int) -> str:
    while line and _width(draw, line + ELLIPSIS, face) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def fit_block(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, *, max_lines: int = 2,
              min_size: int | None = None) -> TextBlock:
    """``text`` in at most ``max_lines`` lines no wider than ``width``: at ``size`` if it fits, else at
    the largest size down to ``min_size`` (default: 60% of ``size``) that fits, else at ``min_size``
    with the last line cut by an ellipsis."""
    path = font_for(_drawable_chars(text))
    text = drawable_in(text, path)
    smallest = max(8, min_size or round(size * 0.6))
    current = size
    while True:
        face = typeface(path, current)
        lines = _wrap(draw, text, face, width)
        if len(lines) <= max_lines or current <= smallest:
            break
        current = max(smallest, int(current * 0.9))
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], _ellipsised(draw, " ".join(lines[max_lines - 1:]), face, width)]
    ascent, descent = face.getmetrics()
    return TextBlock(tuple(lines), face, round((ascent + descent) * 1.15))


def draw_block(draw: ImageDraw.ImageDraw, block: TextBlock, x: float, y: float, width: int, fill: tuple,
               align: str = "center") -> float:
    """Draw ``block`` from ``y`` inside [x, x + width]; the y below it."""
    for line in block.lines:
        line_width = _width(draw, line, block.font)
        left = x + (width - line_width) / 2 if align == "center" else x
        draw.text((left, y), line, font=block.font, fill=fill)
        y += block.line_height
    return y
