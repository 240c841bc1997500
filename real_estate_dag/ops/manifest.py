"""Parse and validate ``manifest.json``, the file an uploader writes last."""

import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".opus")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic")
ASPECTS = ("16:9", "9:16", "1:1", "4:5")
MAX_VIDEOS = 50
MIN_TARGET_S = 10.0
MAX_TARGET_S = 600.0
MAX_MANIFEST_BYTES = 256 * 1024
# "sensor": the upload sensor launches the run; "client": the uploader launches it through GraphQL
# (e.g. `real-estate-dag submit`) and the sensor leaves the manifest alone.
LAUNCHERS = ("sensor", "client")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ManifestError(ValueError):
    """A manifest that cannot be used; names the file and the offending field."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file = file
        self.field = field
        self.reason = reason
        super().__init__(f"{file}: field '{field}': {reason}")


@dataclass(frozen=True)
class Agent:
    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Listing:
    address: str = ""
    price: float | None = None
    bedrooms: float | None = None
    bathrooms: float | None = None
    square_feet: float | None = None
    property_type: str = ""
    agent: Agent = field(default_factory=Agent)


@dataclass(frozen=True)
class Options:
    target_duration_s: float = 60.0
    aspects: tuple[str, ...] = ("16:9",)


@dataclass(frozen=True)
class Manifest:
    property_id: str
    videos: tuple[str, ...]
    music: str | None = None
    photos: tuple[str, ...] = ()
    listing: Listing = field(default_factory=Listing)
    options: Options = field(default_factory=Options)
    launch: str = "sensor"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_from_dict(data: dict[str, Any]) -> Manifest:
    """Rebuild a Manifest from ``Manifest.to_dict()`` output."""
    listing = dict(data["listing"])
    listing["agent"] = Agent(**listing["agent"])
    options = dict(data["options"])
    options["aspects"] = tuple(options["aspects"])
    return Manifest(
        property_id=data["property_id"],
        videos=tuple(data["videos"]),
        music=data["music"],
        photos=tuple(data["photos"]),
        listing=Listing(**listing),
        options=Options(**options),
        launch=data.get("launch", "sensor"),
    )


def parse_manifest(raw: bytes, file: str = "manifest.json", default_property_id: str = "") -> Manifest:
    """Validate raw manifest bytes. Unknown fields are ignored; missing optional ones get defaults."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(file, "(file)", f"is {len(raw)} bytes; the limit is {MAX_MANIFEST_BYTES}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(file, "(file)", f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(file, "(file)", f"is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict):
        raise ManifestError(file, "(root)", f"must be a JSON object, got {type(data).__name__}")

    property_id = data.get("property_id", default_property_id)
    if not isinstance(property_id, str) or not property_id.strip():
        raise ManifestError(file, "property_id", "must be a non-empty string")
    if len(property_id) > 200:
        raise ManifestError(file, "property_id", "is longer than 200 characters")

    videos = data.get("videos")
    if not isinstance(videos, list) or not videos:
        raise ManifestError(file, "videos", "must be a non-empty list of file names")
    if len(videos) > MAX_VIDEOS:
        raise ManifestError(file, "videos", f"lists {len(videos)} files; the limit is {MAX_VIDEOS}")
    video_names = tuple(
        _relative_name(file, f"videos[{i}]", v, VIDEO_SUFFIXES) for i, v in enumerate(videos)
    )
    folded: dict[str, str] = {}
    for name in video_names:
        same = unicodedata.normalize("NFC", name).casefold()
        if same in folded:
            how = "more than once" if folded[same] == name else f"twice, as {folded[same]!r} and {name!r}"
            raise ManifestError(file, "videos", f"lists {name!r} {how}")
        folded[same] = name

    music = data.get("music")
    if music is not None:
        music = _relative_name(file, "music", music, AUDIO_SUFFIXES)

    photos = data.get("photos", [])
    if not isinstance(photos, list):
        raise ManifestError(file, "photos", "must be a list of file names")
    photo_names = tuple(
        _relative_name(file, f"photos[{i}]", p, PHOTO_SUFFIXES) for i, p in enumerate(photos)
    )

    launch = data.get("launch", "sensor")
    if launch not in LAUNCHERS:
        raise ManifestError(file, "launch", f"{launch!r} is not one of {', '.join(LAUNCHERS)}")

    return Manifest(
        property_id=property_id,
        videos=video_names,
        music=music,
        photos=photo_names,
        listing=_listing(file, data.get("listing", {})),
        options=_options(file, data.get("options", {})),
        launch=launch,
    )


def _relative_name(file: str, field_name: str, value: Any, suffixes: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(file, field_name, "must be a non-empty file name")
    if _CONTROL.search(value):
        raise ManifestError(file, field_name, f"{value!r} contains control characters")
    if (_SCHEME.match(value) or value.startswith(("/", "\\", "~")) or "\\" in value
            or any(part in ("..", ".") for part in value.split("/")) or len(value) > 255):
        raise ManifestError(file, field_name, f"{value!r} must be a plain path inside the upload folder")
    if not value.lower().endswith(suffixes):
        raise ManifestError(file, field_name, f"{value!r} must end with one of {', '.join(suffixes)}")
    return PurePosixPath(value).as_posix()


def _optional_number(file: str, field_name: str, value: Any, maximum: float) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ManifestError(file, field_name, f"must be a number, got {value!r}")
    if not 0 <= value <= maximum:
        raise ManifestError(file, field_name, f"must be between 0 and {maximum:g}, got {value!r}")
    return float(value)


def _text(file: str, field_name: str, value: Any, limit: int = 200) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ManifestError(file, field_name, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ManifestError(file, field_name, f"is longer than {limit} characters")
    return value.strip()


def _listing(file: str, raw: Any) -> Listing:
    if not isinstance(raw, dict):
        raise ManifestError(file, "listing", "must be an object")
    agent = raw.get("agent", {})
    if not isinstance(agent, dict):
        raise ManifestError(file, "listing.agent", "must be an object")
    return Listing(
        address=_text(file, "listing.address", raw.get("address")),
        price=_optional_number(file, "listing.price", raw.get("price"), 1e11),
        bedrooms=_optional_number(file, "listing.bedrooms", raw.get("bedrooms"), 100),
        bathrooms=_optional_number(file, "listing.bathrooms", raw.get("bathrooms"), 100),
        square_feet=_optional_number(file, "listing.square_feet", raw.get("square_feet"), 1e7),
        property_type=_text(file, "listing.property_type", raw.get("property_type"), 60),
        agent=Agent(
            name=_text(file, "listing.agent.name", agent.get("name"), 100),
            phone=_text(file, "listing.agent.phone", agent.get("phone"), 40),
        ),
    )


def _options(file: str, raw: Any) -> Options:
    if not isinstance(raw, dict):
        raise ManifestError(file, "options", "must be an object")
    target = raw.get("target_duration_s", Options.target_duration_s)
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
        raise ManifestError(file, "options.target_duration_s", f"must be a number, got {target!r}")
    if not MIN_TARGET_S <= target <= MAX_TARGET_S:
        raise ManifestError(
            file,
            "options.target_duration_s",
            f"must be between {MIN_TARGET_S:g} and {MAX_TARGET_S:g} seconds, got {target!r}",
        )
    aspects = raw.get("aspects", list(Options.aspects))
    if not isinstance(aspects, list) or not aspects:
        raise ManifestError(file, "options.aspects", "must be a non-empty list")
    for aspect in aspects:
        if aspect not in ASPECTS:
            raise ManifestError(
                file, "options.aspects", f"{aspect!r} is not one of {', '.join(ASPECTS)}"
            )
    ordered = tuple(dict.fromkeys(["16:9", *aspects]))
    return Options(target_duration_s=float(target), aspects=ordered)
