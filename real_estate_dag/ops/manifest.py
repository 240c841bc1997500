"""Parse and validate ``manifest.json``, the file an uploader writes last, with a pydantic model."""

import re
import unicodedata
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".opus")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
ASPECTS = ("16:9", "9:16", "1:1", "4:5")
MAX_VIDEOS = 50
MIN_TARGET_S = 10.0
MAX_TARGET_S = 600.0
MAX_MANIFEST_BYTES = 256 * 1024
# Any property id maps to a partition key (ops/keys.py); the bound only keeps logs and tags readable.
MAX_PROPERTY_ID_CHARS = 1000
# "sensor": the upload sensor launches the run; "client": the uploader launches it through GraphQL
# (e.g. `real-estate-dag submit`) and the sensor leaves the manifest alone.
LAUNCHERS = ("sensor", "client")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Line breaks, tabs and other control characters in listing text become one space: it is drawn on one line.
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ManifestError(ValueError):
    """A manifest that cannot be used; names the file and the offending field."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file = file
        self.field = field
        self.reason = reason
        super().__init__(f"{file}: field '{field}': {reason}")


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError("manifest", reason)  # no context: the reason is never formatted again


def _upload_name(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.strip():
            raise _invalid("must be a non-empty file name")
        if _CONTROL.search(value):
            raise _invalid(f"{value!r} contains control characters")
        if (_SCHEME.match(value) or value.startswith(("/", "\\", "~")) or "\\" in value
                or any(part in ("..", ".") for part in value.split("/")) or len(value) > 255):
            raise _invalid(f"{value!r} must be a plain path inside the upload folder")
        if not value.lower().endswith(suffixes):
            raise _invalid(f"{value!r} must end with one of {', '.join(suffixes)}")
        return PurePosixPath(value).as_posix()

    return check


def _between(low: float, high: float, unit: str = "") -> Callable[[float | None], float | None]:
    def check(value: float | None) -> float | None:
        if value is not None and not low <= value <= high:
            raise _invalid(f"must be between {low:g} and {high:g}{unit}, got {value:g}")
        return value

    return check


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _one_line(value: Any) -> Any:
    if value is None:
        return ""
    return _BREAKS.sub(" ", value).strip() if isinstance(value, str) else value


VideoName = Annotated[str, AfterValidator(_upload_name(VIDEO_SUFFIXES))]
ImageName = Annotated[str, AfterValidator(_upload_name(IMAGE_SUFFIXES))]
AudioName = Annotated[str, AfterValidator(_upload_name(AUDIO_SUFFIXES))]


def _count(high: float) -> Any:
    return Annotated[float | None, BeforeValidator(_blank_is_none), AfterValidator(_between(0, high))]


def _text(limit: int) -> Any:
    return Annotated[str, BeforeValidator(_one_line), Field(max_length=limit)]


class _Model(BaseModel):
    # strict: JSON types as written ("3" is not a number); lists are read into tuples
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True, allow_inf_nan=False)


class Agent(_Model):
    name: _text(100) = ""
    phone: _text(40) = ""


class Listing(_Model):
    """Listing facts as the uploader wrote them (casing kept); text is one line, numbers are optional."""

    address: _text(200) = ""
    price: _count(1e11) = None
    bedrooms: _count(100) = None
    bathrooms: _count(100) = None
    square_feet: _count(1e7) = None
    property_type: _text(60) = ""
    agent: Agent = Agent()


def _colour(value: str) -> str:
    if not _COLOUR.match(value):
        raise _invalid(f"{value!r} must be a colour written #rrggbb")
    return value.lower()


def _email(value: str) -> str:
    if value and not _EMAIL.match(value):
        raise _invalid(f"{value!r} is not an e-mail address")
    return value


def _web_address(value: str) -> str:
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise _invalid(f"{value!r} must be an http:// or https:// address")
    return value


Colour = Annotated[str, AfterValidator(_colour)]


class Colors(_Model):
    primary: Colour = "#1d3557"  # card backgrounds
    accent: Colour = "#f1c40f"  # rules and highlights
    text: Colour = "#ffffff"


class Brand(_Model):
    """The agent and brokerage: shown on the closing card and the corner logo of the branded render,
    never on the unbranded (MLS) one."""

    agent_name: _text(100) = ""
    agent_phone: _text(40) = ""
    agent_email: Annotated[str, BeforeValidator(_one_line), Field(max_length=254), AfterValidator(_email)] = ""
    agent_licence: _text(60) = ""
    agent_portrait: ImageName | None = None
    brokerage: _text(120) = ""
    logo: ImageName | None = None
    colors: Colors = Colors()
    listing_url: Annotated[str, BeforeValidator(_one_line), Field(max_length=500), AfterValidator(_web_address)] = ""

    def agent_texts(self) -> list[str]:
        """Every agent and brokerage text, which the unbranded render must not show."""
        return [t for t in (self.agent_name, self.agent_phone, self.agent_email, self.agent_licence, self.brokerage,
                            self.listing_url) if t]

    def files(self) -> dict[str, str]:
        return {f: n for f, n in (("agent_portrait", self.agent_portrait), ("logo", self.logo)) if n}


class Options(_Model):
    target_duration_s: Annotated[float, AfterValidator(_between(MIN_TARGET_S, MAX_TARGET_S, " seconds"))] = 60.0
    aspects: Annotated[tuple[Literal[ASPECTS], ...], Field(min_length=1, strict=False)] = ("16:9",)

    @field_validator("aspects")
    @classmethod
    def _landscape_first(cls, aspects: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(["16:9", *aspects]))

    teaser: bool = True  # a 15 s teaser (16:9 and 9:16) of the strongest clips
    unbranded: bool = True  # showcase_unbranded.mp4 for MLSs that forbid agent branding
    room_captions: bool = False  # room names as lower thirds
    corner_logo: bool = False  # the brand's logo in a corner of every clip of the branded render


class Manifest(_Model):
    property_id: str
    videos: Annotated[tuple[VideoName, ...], Field(min_length=1, max_length=MAX_VIDEOS, strict=False)]
    music: AudioName | None = None
    listing: Listing = Listing()
    brand: Brand = Brand()
    options: Options = Options()
    launch: Literal[LAUNCHERS] = "sensor"

    @model_validator(mode="before")
    @classmethod
    def _default_property_id(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "property_id" not in data and info.context:
            return {**data, "property_id": info.context["default_property_id"]}
        return data

    @field_validator("property_id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        if not value.strip():
            raise _invalid("must be a non-empty string")
        if len(value) > MAX_PROPERTY_ID_CHARS:
            raise _invalid(f"is {len(value)} characters long; ids of up to {MAX_PROPERTY_ID_CHARS} characters "
                           "(any characters) map to a partition key")
        return value

    @field_validator("videos")
    @classmethod
    def _distinct(cls, videos: tuple[str, ...]) -> tuple[str, ...]:
        folded: dict[str, str] = {}
        for name in videos:
            same = unicodedata.normalize("NFC", name).casefold()
            if same in folded:
                how = "more than once" if folded[same] == name else f"twice, as {folded[same]!r} and {name!r}"
                raise _invalid(f"lists {name!r} {how}")
            folded[same] = name
        return videos

    @model_validator(mode="after")
    def _agent_from_listing(self) -> "Manifest":
        """``listing.agent`` (the older place for the agent) fills the brand fields it leaves empty."""
        agent = self.listing.agent
        update = {k: v for k, v in (("agent_name", agent.name), ("agent_phone", agent.phone))
                  if v and not getattr(self.brand, k)}
        if not update:
            return self
        return self.model_copy(update={"brand": self.brand.model_copy(update=update)})

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def manifest_from_dict(data: dict[str, Any]) -> Manifest:
    """Rebuild a Manifest from ``Manifest.to_dict()`` output (also one stored as JSON)."""
    return Manifest.model_validate(data)


def parse_manifest(raw: bytes, file: str = "manifest.json", default_property_id: str = "") -> Manifest:
    """Validate raw manifest bytes. Unknown fields are ignored; missing optional ones get defaults."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(file, "(file)", f"is {len(raw)} bytes; the limit is {MAX_MANIFEST_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(file, "(file)", f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        # the JSON parser stops at 200 levels of nesting, with an error rather than a RecursionError
        return Manifest.model_validate_json(text, context={"default_property_id": default_property_id})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ManifestError(file, _field(error), _reason(error)) from None


def _field(error: ErrorDetails) -> str:
    if error["type"] == "json_invalid":
        return "(file)"
    text = ""
    for part in error["loc"]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(root)"


_KINDS = {"string": "a string", "float": "a number", "int": "a number", "tuple": "a list", "list": "a list",
          "model": "a JSON object", "dict": "a JSON object", "model_attributes": "a JSON object",
          "bool": "true or false"}


def _reason(error: ErrorDetails) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "manifest":
        return error["msg"]
    if kind == "json_invalid":
        problem = str(ctx.get("error", error["msg"]))
        if problem.startswith("recursion limit exceeded"):
            return "is nested too deeply (more than 200 levels of arrays and objects)"
        return f"is not valid JSON: {problem}"
    if kind in ("missing", "too_short"):
        return "must be a non-empty list of file names" if error["loc"] == ("videos",) else \
            "must be a non-empty list" if kind == "too_short" else "is required"
    if kind.endswith("_type") and kind.removesuffix("_type") in _KINDS:
        return f"must be {_KINDS[kind.removesuffix('_type')]}, got {_shown(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {value!r}"
    if kind in ("too_long", "string_too_long") and isinstance(value, str):
        return f"is longer than {ctx['max_length']} characters"
    if kind == "too_long":
        return f"lists {ctx['actual_length']} items; the limit is {ctx['max_length']}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{_shown(value)} is not one of {', '.join(options)}"
    return error["msg"]


def _shown(value: Any) -> str:
    """A JSON value for an error message: scalars as written (shortened), containers by kind."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
