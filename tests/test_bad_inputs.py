"""A corpus of generated uploads, bad and merely unusual, each with the outcome it must get.

Every bad upload fails in property_manifest with a specific message (asserted), nothing is
published for it and the uploads are byte-identical afterwards; the unusual-but-valid ones
(rotations, variable frame rate, unicode and comma ids, nested paths) pass; a good property
processed in the same store goes all the way to a published showcase, and rerunning its analysis
gives the same edit decision list.
"""

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from media_helpers import SHOWCASE_ONLY, ffmpeg

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import LocalStore

GOOD = "good-property"


@dataclass(frozen=True)
class Case:
    folder: str
    build: Callable[[Path, dict[str, Path]], None]  # (upload folder, media) -> writes the upload
    expect: str | None  # a substring of the failure message; None: the upload is valid
    config: dict = field(default_factory=dict)  # UploadLimits fields for this run
    key: str | None = None  # partition key when not derived from the folder name


def manifest(folder: Path, body: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(body))


def video_upload(media_name: str, as_name: str = "walk.mp4", **extra: object) -> Callable[[Path, dict], None]:
    def build(folder: Path, media: dict[str, Path]) -> None:
        (folder / as_name).parent.mkdir(parents=True, exist_ok=True)
        (folder / as_name).write_bytes(media[media_name].read_bytes())
        manifest(folder, {"videos": [as_name], **extra})
    return build


def manifest_only(body: object, raw: bytes | None = None) -> Callable[[Path, dict], None]:
    def build(folder: Path, media: dict[str, Path]) -> None:
        (folder / "walk.mp4").parent.mkdir(parents=True, exist_ok=True)
        (folder / "walk.mp4").write_bytes(media["good"].read_bytes())
        if raw is None:
            manifest(folder, body)
        else:
            (folder / "manifest.json").write_bytes(raw)
    return build


def write(name: str, data: bytes) -> Callable[[Path, dict], None]:
    def build(folder: Path, media: dict[str, Path]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        manifest(folder, {"videos": [name]})
    return build


def link(target: Callable[[Path], Path], name: str = "walk.mp4") -> Callable[[Path, dict], None]:
    def build(folder: Path, media: dict[str, Path]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target(folder), folder / name)
        manifest(folder, {"videos": [name]})
    return build


def linked_subfolder(folder: Path, media: dict[str, Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(folder.parent / GOOD, folder / "rooms")
    manifest(folder, {"videos": ["rooms/walk.mp4"]})


def linked_manifest(folder: Path, media: dict[str, Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "walk.mp4").write_bytes(media["good"].read_bytes())
    os.symlink(folder.parent / GOOD / "manifest.json", folder / "manifest.json")


def music_upload(name: str, data: bytes | None) -> Callable[[Path, dict], None]:
    """A good video plus music ``name`` holding ``data`` (the real track when None, nothing when b"")."""
    def build(folder: Path, media: dict[str, Path]) -> None:
        video_upload("good", music=name)(folder, media)
        if data != b"":
            (folder / name).write_bytes(media["music"].read_bytes() if data is None else data)
    return build


def linked_folder(folder: Path, media: dict[str, Path]) -> None:
    """The upload folder itself is a link to a folder outside the store."""
    root = folder.parent.parent
    outside = root.with_name(f"{root.name}-outside")
    video_upload("good")(outside, media)
    os.symlink(outside, folder)


def two_videos(folder: Path, media: dict[str, Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(media["good"].read_bytes())
    manifest(folder, {"videos": ["a.mp4", "b.mp4"]})


def padded(folder: Path, media: dict[str, Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "walk.mp4").write_bytes(media["good"].read_bytes() + bytes(1_200_000))
    manifest(folder, {"videos": ["walk.mp4"]})


CASES = [
    # broken files
    Case("zero-length", write("walk.mp4", b""), "uploads/zero-length/walk.mp4: the file is empty (0 bytes)"),
    Case("not-media", write("walk.mp4", b"<html>not a video</html>\n" * 40),
         "uploads/not-media/walk.mp4: not a readable media file"),
    Case("truncated-index", video_upload("truncated_faststart"),
         "uploads/truncated-index/walk.mp4: is truncated: it declares 12.00 s but holds no video data"),
    Case("truncated-no-index", video_upload("truncated_plain"),
         "uploads/truncated-no-index/walk.mp4: not a readable media file"),
    Case("audio-only", video_upload("music", "walk.mp4"),
         "uploads/audio-only/walk.mp4: has no video stream (found: audio)"),
    Case("one-frame", video_upload("one_frame"), "uploads/one-frame/walk.mp4: is 0.04 s long; at least 1 s"),
    # limits, refused from the header before any decoding
    Case("huge-resolution", video_upload("huge"),
         "uploads/huge-resolution/walk.mp4: declares 9000x8000 pixels (72000000 per frame); the limit is 33177600"),
    Case("huge-duration", video_upload("long"),
         "uploads/huge-duration/walk.mp4: declares 3000.0 s; the limit is 1800 s"),
    Case("tiny-frame", video_upload("tiny"), "declares 16x16 pixels; the short side must be at least 32"),
    Case("too-fast", video_upload("fast"), "uploads/too-fast/walk.mp4: has a frame rate of 300.000 fps"),
    Case("too-big-file", padded, "MiB); the limit is 1048576 bytes (1.0 MiB) (REDAG_MAX_FILE_MIB)",
         config={"max_file_mib": 1}),
    Case("too-much-footage", two_videos, "the videos add up to 24.0 s; the limit per property is 20 s",
         config={"max_total_seconds": 20}),
    # manifests
    Case("bad-json", manifest_only(None, b'{"videos": ["walk.mp4"'),
         "manifest.json: field '(file)': is not valid JSON"),
    Case("not-utf8", manifest_only(None, b'{"videos": ["w\xe4lk.mp4"]}'), "is not UTF-8 text"),
    Case("json-array", manifest_only(["walk.mp4"]), "field '(root)': must be a JSON object, got list"),
    Case("no-videos", manifest_only({"listing": {}}), "field 'videos': must be a non-empty list of file names"),
    Case("wrong-type", manifest_only({"videos": ["walk.mp4"], "options": {"target_duration_s": "60"}}),
         "field 'options.target_duration_s': must be a number, got '60'"),
    Case("huge-manifest", manifest_only(None, b'{"videos": ["walk.mp4"], "x": "' + b"a" * 300_000 + b'"}'),
         "bytes; the limit is 262144"),
    Case("duplicate-names", manifest_only({"videos": ["walk.mp4", "walk.mp4"]}),
         "field 'videos': lists 'walk.mp4' more than once"),
    Case("case-duplicates", manifest_only({"videos": ["walk.mp4", "WALK.mp4"]}),
         "lists 'WALK.mp4' twice, as 'walk.mp4' and 'WALK.mp4'"),
    Case("missing-video", manifest_only({"videos": ["walk.mp4", "kitchen.mp4"]}),
         "uploads/missing-video/kitchen.mp4: listed in the manifest but missing from uploads/missing-video/"),
    # addressing anything outside the upload folder
    Case("traversal", manifest_only({"videos": ["../good-property/walk.mp4"]}),
         "field 'videos[0]': '../good-property/walk.mp4' must be a plain path inside the upload folder"),
    Case("absolute", manifest_only({"videos": ["/etc/passwd.mp4"]}), "'/etc/passwd.mp4' must be a plain path"),
    Case("url", manifest_only({"videos": ["https://example.com/walk.mp4"]}),
         "'https://example.com/walk.mp4' must be a plain path"),
    Case("file-scheme", manifest_only({"videos": ["file:walk.mp4"]}), "'file:walk.mp4' must be a plain path"),
    Case("control-chars", manifest_only({"videos": ["walk\n.mp4"]}), "contains control characters"),
    Case("link-out", link(lambda f: Path("/etc/hostname")),
         "uploads/link-out/walk.mp4: listed in the manifest is a link pointing outside the store"),
    Case("link-sideways", link(lambda f: f.parent / GOOD / "walk.mp4"),
         "uploads/link-sideways/walk.mp4: listed in the manifest is a link, not a plain file inside "
         "uploads/link-sideways/"),
    Case("linked-subfolder", linked_subfolder, "uploads/linked-subfolder/rooms/walk.mp4: listed in the manifest "
         "is a link, not a plain file"),
    Case("linked-manifest", linked_manifest, "uploads/linked-manifest/manifest.json: the manifest is a link"),
    Case("linked-folder", linked_folder,
         "uploads/linked-folder: the upload folder is a link pointing outside the store"),
    Case("truncated-music", lambda folder, media: music_upload("music.mp3", media["truncated_mp3"].read_bytes())(
        folder, media), "uploads/truncated-music/music.mp3: truncated: header says 20.0 s, decodes to 3.0 s"),
    Case("deep-manifest", manifest_only(None, b'{"videos": ["walk.mp4"], "x": ' + b"[" * 100_000 + b"]" * 100_000
                                        + b"}"), "uploads/deep-manifest/manifest.json: "),
    Case("bad-music", music_upload("music.m4a", b"ID3 not really audio" * 20),
         "uploads/bad-music/music.m4a: not a readable audio file"),
    Case("missing-music", music_upload("music.mp3", b""),
         "uploads/missing-music/music.mp3: listed as music but missing"),
    Case("unsafe-key", video_upload("good"), "partition key 'x,y/../z' must match [a-z0-9_-]{1,64}",
         key="x,y/../z"),
    Case("unknown-key", video_upload("good"), "no upload folder under uploads/ maps to property key 'nobody-here'",
         key="nobody-here"),
    # unusual but valid
    Case("rotated-180", video_upload("rot180"), None),
    Case("tilted-80", video_upload("rot80"), None),
    Case("variable-frame-rate", video_upload("vfr"), None),
    Case("Ünïcödé Straße 5", video_upload("good"), None),
    Case("12 Oak St, Unit 5", video_upload("good"), None),
    Case("nested-path", video_upload("good", "rooms/kitchen walk.MP4"), None),
    Case("with-music", music_upload("music.m4a", None), None),
]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, short_clip: Path, music_track: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("corpus_media")
    m = {name: out / f"{name}.mp4" for name in ("good", "truncated_faststart", "truncated_plain", "one_frame",
                                                  "huge", "long", "tiny", "fast", "vfr", "rot180", "rot80")}
    m["music"] = music_track
    mp3 = out / "music.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=20", "-c:a", "libmp3lame", "-b:a", "128k", str(mp3))
    m["truncated_mp3"] = out / "truncated.mp3"
    m["truncated_mp3"].write_bytes(mp3.read_bytes()[: 128_000 // 8 * 3])  # the first 3 s of the 20 s the header says
    ffmpeg("-i", str(short_clip), "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           "-movflags", "+faststart", str(m["good"]))
    data = m["good"].read_bytes()
    m["truncated_faststart"].write_bytes(data[: len(data) // 3])
    plain = out / "plain.mp4"
    ffmpeg("-i", str(m["good"]), "-c", "copy", str(plain))
    m["truncated_plain"].write_bytes(plain.read_bytes()[: len(data) // 2])
    ffmpeg("-i", str(m["good"]), "-frames:v", "1", "-an", "-c:v", "libx264", str(m["one_frame"]))
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=9000x8000:r=1:d=1", "-c:v", "libx264", "-preset", "ultrafast",
           str(m["huge"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=0.001:duration=3000", "-c:v", "libx264", str(m["long"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=16x16:rate=25:duration=3", "-c:v", "libx264", str(m["tiny"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=300:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", str(m["fast"]))
    # 60 frames 1/15 s apart, then 60 frames 1/30 s apart: the frame rate changes half-way
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x90:rate=30:duration=4",
           "-vf", "setpts='if(lt(N,60),N*2,60+N)/30/TB'", "-fps_mode", "vfr", "-c:v", "libx264", str(m["vfr"]))
    ffmpeg("-display_rotation", "180", "-i", str(m["good"]), "-c", "copy", str(m["rot180"]))
    ffmpeg("-display_rotation", "80", "-i", str(m["good"]), "-c", "copy", str(m["rot80"]))
    return m


def snapshot(uploads: Path) -> dict[str, str]:
    """sha256 of every upload file; links are recorded by their target, never followed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(uploads):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                found[str(path)] = "link:" + os.readlink(path)
            elif path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def resources(root: Path, limits: dict | None = None) -> dict:
    store = LocalStore(root=str(root))
    return {"store": store, "models": ModelRegistry(device="cpu"), "io_manager": StoreJsonIOManager(store=store),
            "limits": UploadLimits(**(limits or {}))}


def run(root: Path, instance: DagsterInstance, key: str, selection: AssetSelection, limits: dict | None = None):
    return materialize(list(defs.assets), selection=selection, partition_key=key, instance=instance,
                       resources=resources(root, limits), raise_on_error=False)


def failure_of(result):
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failures[0] if failures else None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]):
    root = tmp_path_factory.mktemp("corpus_store")
    uploads = root / "uploads"
    video_upload("good", listing={"address": "1 Good Rd"},
                 options={"target_duration_s": 15, **SHOWCASE_ONLY})(uploads / GOOD, media)
    for case in CASES:
        case.build(uploads / case.folder, media)
    before = snapshot(uploads)
    instance = DagsterInstance.ephemeral()
    keys = {case.folder: case.key or property_key(case.folder) for case in CASES}
    instance.add_dynamic_partitions("property", [GOOD, *keys.values()])
    outcomes = {}
    for case in CASES:
        # bad uploads run the whole graph, to show nothing downstream runs or publishes
        selection = AssetSelection.all() if case.expect else AssetSelection.assets("property_manifest")
        outcomes[case.folder] = run(root, instance, keys[case.folder], selection, case.config)
    good = run(root, instance, GOOD, AssetSelection.all())
    return root, before, snapshot(uploads), outcomes, good, instance


@pytest.mark.parametrize("case", CASES, ids=[c.folder for c in CASES])
def test_each_upload_gets_its_expected_outcome(corpus, case: Case) -> None:
    root, _, _, outcomes, _, _ = corpus
    result = outcomes[case.folder]
    failure = failure_of(result)
    if case.expect is None:
        assert result.success, failure and failure.event_specific_data.user_failure_data.description
        return
    assert not result.success
    assert failure.step_key == "property_manifest"
    data = failure.event_specific_data.user_failure_data
    assert case.expect in data.description
    assert data.metadata["error"].value == data.description
    assert "check" in data.metadata
    # not retried: one attempt, no STEP_UP_FOR_RETRY
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert not result.get_asset_materialization_events()
    assert case.key or property_key(case.folder) not in os.listdir(root / "results")


def test_valid_uploads_record_their_facts(corpus) -> None:
    root, _, _, outcomes, _, _ = corpus

    def facts(folder: str) -> dict:
        [event] = outcomes[folder].get_asset_materialization_events()
        value = json.loads((root / "work" / event.partition / "values/property_manifest.json").read_text())
        return value["videos"][0]["facts"] | {"partition": event.partition}

    assert facts("rotated-180")["rotation"] == 180
    assert facts("tilted-80")["rotation"] in (90, 270)
    vfr = facts("variable-frame-rate")
    assert vfr["duration_s"] == pytest.approx(6.0, abs=0.1) and vfr["frame_count_estimate"] == 120
    unicode_key = facts("Ünïcödé Straße 5")["partition"]
    assert unicode_key.startswith("unicode-stra") and unicode_key == property_key("Ünïcödé Straße 5")
    assert facts("12 Oak St, Unit 5")["partition"].startswith("12-oak-st-unit-5-")


def test_uploads_are_byte_identical_afterwards(corpus) -> None:
    _, before, after, _, _, _ = corpus
    assert len(before) > 40
    assert after == before


def test_the_good_property_alongside_is_published(corpus) -> None:
    root, _, _, _, good, _ = corpus
    assert good.success
    assert (root / "results" / GOOD / "runs" / good.run_id / "showcase.mp4").stat().st_size > 10_000
    published = {p.name for p in (root / "results").iterdir()}
    assert published == {GOOD}
    assert not list(root.rglob(".tmp-*"))


def test_rerunning_the_analysis_gives_the_same_edit_decision_list(corpus) -> None:
    root, _, _, _, _, instance = corpus
    published = {p: p.read_bytes() for p in (root / "results" / GOOD).rglob("*") if p.is_file()}
    clips_value = root / "work" / GOOD / "values/selected_clips.json"
    first = json.loads(clips_value.read_text())
    tables = ("shots", "rooms", "quality", "clips")
    staged = root / "work" / GOOD / "tables"
    first_tables = {t: pd.read_parquet(staged / f"{t}.parquet") for t in tables}
    again = run(root, instance, GOOD, AssetSelection.assets("selected_clips").upstream())
    assert again.success
    assert {e.asset_key.path[-1] for e in again.get_asset_materialization_events()} == {
        "property_manifest", "video_frames", "shot_boundaries", "detected_objects", "room_labels", "quality_scores",
        "photo_analysis", "music_beats", "narration", "selected_clips"}
    assert first["clips"] and json.loads(clips_value.read_text()) == first
    for table in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(staged / f"{table}.parquet"), first_tables[table])
    # without showcase_video nothing is published: the current set is the first run's, untouched
    assert {p: p.read_bytes() for p in (root / "results" / GOOD).rglob("*") if p.is_file()} == published
