"""Partition keys derived from user-supplied property ids."""

import hashlib
import re
import unicodedata

KEY_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
_INVALID_RUN = re.compile(r"[^a-z0-9_-]+")


def property_key(property_id: str) -> str:
    """Map a property id to a partition key matching ``[a-z0-9_-]{1,64}``.

    Ids that already match are kept as they are. Any other id is transliterated, lower-cased, has
    runs of other characters replaced by ``-`` and gets a short digest of the original appended, so
    two different unsafe ids never share a key and the same id always maps to the same key.
    """
    if KEY_PATTERN.fullmatch(property_id):
        return property_id
    ascii_id = unicodedata.normalize("NFKD", property_id).encode("ascii", "ignore").decode()
    slug = _INVALID_RUN.sub("-", ascii_id.lower()).strip("-")[:55].strip("-")
    digest = hashlib.sha256(property_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"property-{digest}"


class UnsafePartitionKeyError(ValueError):
    pass


def check_partition_key(key: str) -> str:
    """``key`` itself when it is safe to use in storage paths, else an error naming it."""
    if not KEY_PATTERN.fullmatch(key):
        raise UnsafePartitionKeyError(
            f"partition key {key!r} must match [a-z0-9_-]{{1,64}}; add properties through the upload "
            "sensor, which maps any upload folder name to such a key"
        )
    return key
