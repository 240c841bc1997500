"""Property-based tests: manifest parsing never fails in an unexpected way and never lets a name
leave the upload folder; partition keys are always safe, stable and distinct."""

import json
import posixpath
import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from real_estate_dag.ops.keys import KEY_PATTERN, UnsafePartitionKeyError, check_partition_key, property_key
from real_estate_dag.ops.manifest import Manifest, ManifestError, manifest_from_dict, parse_manifest

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# names built from the pieces that make paths dangerous, mixed with ordinary ones
path_pieces = st.sampled_from(["..", ".", "", "/", "\\", "~", "a", "sub", "file:", "s3://b", "C:", "\x00", "\n",
                               "é", "Ü", " ", "walk", ".mp4", ".MOV", ".txt"])
names = st.lists(path_pieces, min_size=1, max_size=8).map("".join) | st.text(max_size=30)


def check(raw: bytes) -> Manifest | None:
    try:
        return parse_manifest(raw, file="uploads/p/manifest.json", default_property_id="p")
    except ManifestError as exc:
        assert str(exc).startswith("uploads/p/manifest.json: field '")
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_manifest_or_a_manifest_error(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None)
@given(json_values, st.dictionaries(st.sampled_from(["videos", "music", "photos", "listing", "options",
                                                     "property_id"]), json_values))
def test_arbitrary_json_gives_a_manifest_or_a_manifest_error(value: object, fields: dict) -> None:
    check(json.dumps(value).encode())
    manifest = check(json.dumps(fields).encode())
    if manifest is not None:
        assert manifest_from_dict(manifest.to_dict()) == manifest


@settings(max_examples=500, deadline=None)
@given(st.lists(names, min_size=1, max_size=3), st.one_of(st.none(), names))
def test_accepted_names_never_leave_the_upload_folder(videos: list[str], music: str | None) -> None:
    manifest = check(json.dumps({"videos": videos, "music": music}).encode())
    if manifest is None:
        return
    for name in (*manifest.videos, *([manifest.music] if manifest.music else [])):
        joined = posixpath.normpath(posixpath.join("uploads/p", name))
        assert joined.startswith("uploads/p/") and ".." not in name.split("/")
        assert not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", name) and "\\" not in name
        assert not re.search(r"[\x00-\x1f]", name)
    assert len({v.casefold() for v in manifest.videos}) == len(manifest.videos)


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_property_keys_are_safe_and_stable(property_id: str) -> None:
    key = property_key(property_id)
    assert KEY_PATTERN.fullmatch(key)
    assert check_partition_key(key) == key
    assert property_key(property_id) == key
    if KEY_PATTERN.fullmatch(property_id):
        assert key == property_id


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_different_ids_get_different_keys(a: str, b: str) -> None:
    assume(a != b)
    assert property_key(a) != property_key(b)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_only_safe_partition_keys_reach_storage_paths(key: str) -> None:
    try:
        check_partition_key(key)
    except UnsafePartitionKeyError as exc:
        assert not KEY_PATTERN.fullmatch(key) and repr(key) in str(exc)
    else:
        assert KEY_PATTERN.fullmatch(key) and "/" not in key and "." not in key
