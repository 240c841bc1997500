import json
import re

import pytest

from real_estate_dag.ops.keys import property_key
from real_estate_dag.ops.manifest import ManifestError, manifest_from_dict, parse_manifest


def raw(**fields: object) -> bytes:
    return json.dumps({"property_id": "123-main-st", "videos": ["front.mp4"], **fields}).encode()


def test_defaults_and_unknown_fields_are_ignored() -> None:
    m = parse_manifest(raw(extra={"x": 1}))
    assert m.videos == ("front.mp4",)
    assert m.options.target_duration_s == 60
    assert m.options.aspects == ("16:9",)
    assert m.music is None
    assert manifest_from_dict(m.to_dict()) == m


def test_full_manifest_round_trips() -> None:
    m = parse_manifest(raw(
        music="music.mp3",
        listing={"address": "123 Main St", "price": 650000, "bedrooms": 3, "bathrooms": 2,
                 "square_feet": 1800, "property_type": "house", "agent": {"name": "A", "phone": "1"}},
        options={"target_duration_s": 30, "aspects": ["9:16"]},
        launch="client",
    ))
    assert m.listing.price == 650000 and m.listing.agent.name == "A"
    assert m.launch == "client"
    assert m.options.aspects == ("16:9", "9:16")
    assert manifest_from_dict(m.to_dict()) == m


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"{not json", "(file)", "not valid JSON"),
        (b"[]", "(root)", "JSON object"),
        (raw(videos=[]), "videos", "non-empty list"),
        (raw(videos=["a.txt"]), "videos[0]", "must end with"),
        (raw(videos=["../other/a.mp4"]), "videos[0]", "inside the upload folder"),
        (raw(videos=["/etc/a.mp4"]), "videos[0]", "inside the upload folder"),
        (raw(videos=["s3://bucket/a.mp4"]), "videos[0]", "inside the upload folder"),
        (raw(videos=["a.mp4", "a.mp4"]), "videos", "more than once"),
        (raw(music="song.exe"), "music", "must end with"),
        (raw(listing={"price": "cheap"}), "listing.price", "must be a number"),
        (raw(listing={"bedrooms": -1}), "listing.bedrooms", "between"),
        (raw(options={"target_duration_s": 5}), "options.target_duration_s", "between"),
        (raw(options={"aspects": ["2:1"]}), "options.aspects", "not one of"),
        (raw(launch="cron"), "launch", "not one of"),
    ],
)
def test_errors_name_the_file_and_field(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(body, file="uploads/p/manifest.json")
    assert info.value.field == field
    assert reason in str(info.value)
    assert str(info.value).startswith("uploads/p/manifest.json: field")


def test_property_key_keeps_safe_ids_and_maps_unsafe_ones_deterministically() -> None:
    assert property_key("123-main-st") == "123-main-st"
    unsafe = ["123 Main St, Apt 4", "Ünïcödé Straße", "a/../b", ",,,", "x" * 300, "UPPER"]
    keys = [property_key(i) for i in unsafe]
    assert all(re.fullmatch(r"[a-z0-9_-]{1,64}", k) for k in keys)
    assert keys == [property_key(i) for i in unsafe]
    assert len(set(keys)) == len(keys)
    assert property_key("123 Main St") != property_key("123-main-st")
    assert keys[0].startswith("123-main-st-apt-4-")
