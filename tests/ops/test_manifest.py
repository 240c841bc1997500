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
        (raw(videos=[]), "videos", "must be a non-empty list of file names"),
        (b'{"property_id": "p"}', "videos", "must be a non-empty list of file names"),
        (raw(videos=["a.txt"]), "videos[0]", "must end with"),
        (raw(videos=["../other/a.mp4"]), "videos[0]", "inside the upload folder"),
        (raw(videos=["/etc/a.mp4"]), "videos[0]", "inside the upload folder"),
        (raw(videos=["s3://bucket/a.mp4"]), "videos[0]", "inside the upload folder"),
        (raw(videos=["a.mp4", "a.mp4"]), "videos", "more than once"),
        (raw(music="song.exe"), "music", "must end with"),
        (raw(listing={"price": "cheap"}), "listing.price", "must be a number"),
        (raw(listing={"bedrooms": -1}), "listing.bedrooms", "between"),
        (raw(options={"target_duration_s": 5}), "options.target_duration_s", "between"),
        (raw(options={"aspects": ["2:1"]}), "options.aspects[0]", "'2:1' is not one of 16:9, 9:16, 1:1, 4:5"),
        (raw(options={"aspects": []}), "options.aspects", "non-empty list"),
        (raw(videos=["a.mp4", 3]), "videos[1]", "must be a string, got 3"),
        (raw(videos=[f"v{i}.mp4" for i in range(51)]), "videos", "lists 51 items; the limit is 50"),
        (raw(listing={"price": "650000"}), "listing.price", "must be a number, got '650000'"),
        (raw(listing={"bathrooms": True}), "listing.bathrooms", "must be a number, got True"),
        (b'{"property_id": "p", "videos": ["a.mp4"], "listing": {"price": NaN}}', "listing.price",
         "must be a finite number"),
        (raw(listing={"agent": {"name": ["A"]}}), "listing.agent.name", "must be a string, got list"),
        (raw(listing={"address": "x" * 201}), "listing.address", "is longer than 200 characters"),
        (raw(listing=[]), "listing", "must be a JSON object, got list"),
        (raw(property_id="  "), "property_id", "must be a non-empty string"),
        (raw(property_id="p" * 1001), "property_id", "is 1001 characters long; ids of up to 1000"),
        (b"\xff{}", "(file)", "is not UTF-8 text"),
        (raw(launch="cron"), "launch", "not one of"),
    ],
)
def test_errors_name_the_file_and_field(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(body, file="uploads/p/manifest.json")
    assert info.value.field == field
    assert reason in str(info.value)
    assert str(info.value).startswith("uploads/p/manifest.json: field")


def test_the_readme_example_error_reads_as_documented() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(raw(videos=["../a.mp4"]), file="uploads/x/manifest.json")
    assert str(info.value) == ("uploads/x/manifest.json: field 'videos[0]': '../a.mp4' must be a plain path inside "
                               "the upload folder")


@pytest.mark.parametrize("body", [
    '{"videos": ["a.mp4"], "extra": ' + "[" * 100_000 + "]" * 100_000 + "}",  # 200 KB, under the size limit
    '{"listing": ' + '{"a":' * 300 + "1" + "}" * 300 + "}",
])
def test_deeply_nested_json_is_a_manifest_error_not_a_recursion_error(body: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(body.encode(), file="uploads/x/manifest.json")
    assert (info.value.file, info.value.field) == ("uploads/x/manifest.json", "(file)")
    assert "nested too deeply" in info.value.reason


def test_photos_are_checked_like_videos() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(raw(photos=["../../etc/passwd.jpg"]), file="uploads/p/manifest.json")
    assert info.value.field == "photos[0].file" and "inside the upload folder" in str(info.value)
    with pytest.raises(ManifestError) as info:
        parse_manifest(raw(photos=[7]), file="uploads/p/manifest.json")
    assert info.value.field == "photos[0]"
    m = parse_manifest(raw(photos=["photos/a.jpg"]))
    assert manifest_from_dict(m.to_dict()) == m and m.photos[0].file == "photos/a.jpg"


def test_long_property_ids_map_to_a_key() -> None:
    long_id = "Résidence " * 90 + "Apt 3"  # 905 characters
    m = parse_manifest(raw(property_id=long_id))
    assert m.property_id == long_id
    key = property_key(long_id)
    assert re.fullmatch(r"[a-z0-9_-]{1,64}", key) and key.startswith("residence-residence-")
    assert property_key(long_id + "x") != key


def test_hostile_listing_text_is_kept_on_one_line_with_its_casing() -> None:
    rtl = "\u05e8\u05d7\u05d5\u05d1 \u200f12\u200f"  # Hebrew street name with right-to-left marks
    m = parse_manifest(raw(listing={
        "address": "12 Oak St\nApt 3\r\n\tRear\x00\x1b[31m  " + rtl,
        "property_type": "<b>loft</b> https://Example.com/A?b=C",
        "agent": {"name": "  Zoë O'Brien-McDONALD\u2028", "phone": "+1 (555) 010\x7f-0199"},
    }))
    assert m.listing.address == "12 Oak St Apt 3 Rear [31m " + rtl
    assert m.listing.property_type == "<b>loft</b> https://Example.com/A?b=C"
    assert m.listing.agent.name == "Zoë O'Brien-McDONALD"
    assert m.listing.agent.phone == "+1 (555) 010 -0199"
    assert manifest_from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_property_key_keeps_safe_ids_and_maps_unsafe_ones_deterministically() -> None:
    assert property_key("123-main-st") == "123-main-st"
    unsafe = ["123 Main St, Apt 4", "Ünïcödé Straße", "a/../b", ",,,", "x" * 300, "UPPER"]
    keys = [property_key(i) for i in unsafe]
    assert all(re.fullmatch(r"[a-z0-9_-]{1,64}", k) for k in keys)
    assert keys == [property_key(i) for i in unsafe]
    assert len(set(keys)) == len(keys)
    assert property_key("123 Main St") != property_key("123-main-st")
    assert keys[0].startswith("123-main-st-apt-4-")
