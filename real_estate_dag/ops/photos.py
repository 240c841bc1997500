"""Uploaded photos: refused by what their header declares or a failed decode, read upright in 8-bit RGB,
and grouped when they are the same picture (the same file, or a near-copy by difference hash)."""

import warnings
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from real_estate_dag.ops.validate import LimitError, MediaLimits, check_photo_header

FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
FORMAT_NAMES = "JPEG, PNG, WebP or HEIC/HEIF"
EXIF_ORIENTATION = 0x0112
# Difference hashes this many bits apart (of 64) are the same picture re-encoded, resized or retouched.
NEAR_DUPLICATE_BITS = 6


class PhotoError(ValueError):
    """An upload that is not a usable photo; the message names the file and the reason."""


@dataclass(frozen=True)
class PhotoFacts:
    width: int  # as displayed: after the EXIF orientation
    height: int
    format: str
    mode: str
    orientation: int  # the EXIF orientation tag (1: upright)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def register_heif() -> None:
    """Let Pillow open HEIC/HEIF files (pillow-heif)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _open(path: Path, name: str) -> Image.Image:
    register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked next
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise LimitError(f"{name}: declares more than {2 * Image.MAX_IMAGE_PIXELS} pixels; refused as a "
                         "decompression bomb") from exc
    except UnidentifiedImageError as exc:
        raise PhotoError(f"{name}: is not an image ({FORMAT_NAMES} expected)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"{name}: cannot be read as an image ({exc})") from exc


def probe_photo(path: Path, name: str, limits: MediaLimits) -> PhotoFacts:
    """Check one photo without changing it: its format, its declared size against ``limits`` (before
    any pixel is decoded), then one decode (at reduced scale for JPEG) that finds truncated data."""
    image = _open(path, name)
    with image:
        if image.format not in FORMATS:
            raise PhotoError(f"{name}: is a {image.format} image; photos must be {FORMAT_NAMES}")
        orientation = int(image.getexif().get(EXIF_ORIENTATION, 1))
        width, height = image.size
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        check_photo_header(name, width, height, limits)
        try:
            if image.format == "JPEG":
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoError(f"{name}: is truncated or corrupt ({exc})") from exc
        return PhotoFacts(width, height, str(image.format), image.mode, orientation)


def upright_rgb(image: Image.Image) -> Image.Image:
    """``image`` turned by its EXIF orientation, in 8-bit RGB: CMYK converted, 16-bit and float scaled to
    8 bits, palette and grey expanded, transparency composited over white."""
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:  # exif_transpose copies the picture even when upright
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_photo(path: Path, name: str, longest: int | None = None) -> Image.Image:
    """The photo upright in 8-bit RGB; with ``longest``, JPEGs decode at the smallest scale that keeps
    at least that many pixels on the long side."""
    image = _open(path, name)
    with image:
        if longest is not None and image.format == "JPEG":
            scale = longest / max(image.size)
            if scale < 1:
                image.draft("RGB", (int(image.width * scale) + 1, int(image.height * scale) + 1))
        try:
            return upright_rgb(image)
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoError(f"{name}: is truncated or corrupt ({exc})") from exc


def difference_hash(image: Image.Image) -> int:
    """64-bit difference hash: the sign of each horizontal step of the 9x8 grey thumbnail."""
    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1)
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def duplicate_groups(sha256s: list[str], hashes: list[int], near_bits: int = NEAR_DUPLICATE_BITS) -> list[int]:
    """A group number per photo: photos with the same content or difference hashes at most ``near_bits``
    apart share one (transitively); groups are numbered by their first photo, from 0."""
    parent = list(range(len(sha256s)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(sha256s)):
        for j in range(i):
            if sha256s[i] == sha256s[j] or bin(hashes[i] ^ hashes[j]).count("1") <= near_bits:
                parent[root(i)] = root(j)
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(i), len(numbers)) for i in range(len(sha256s))]
