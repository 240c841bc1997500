"""The local upload sensor, evaluated with build_sensor_context against a real instance."""

import json
import os
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context
from media_helpers import Messages, write_upload

from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import LocalStore
from real_estate_dag.sensors.uploads import local_upload_sensor


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as instance:
        yield instance


def tick(instance: DagsterInstance, root: Path, cursor: str | None) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"store": LocalStore(root=str(root)), "limits": UploadLimits()})
    result = local_upload_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_new_unchanged_changed_and_invalid_manifests(instance, tmp_path: Path, short_clip: Path) -> None:
    write_upload(tmp_path, "oak-st", {"a.mp4": short_clip})
    first = tick(instance, tmp_path, None)
    assert [r.partition_key for r in first.run_requests] == ["oak-st"]
    assert first.dynamic_partitions_requests[0].partition_keys == ["oak-st"]
    assert instance.has_dynamic_partition("property", "oak-st")

    unchanged = tick(instance, tmp_path, first.cursor)
    assert unchanged.run_requests == [] and unchanged.dynamic_partitions_requests == []

    manifest = tmp_path / "uploads/oak-st/manifest.json"
    body = json.loads(manifest.read_text())
    body["options"] = {"target_duration_s": 30}
    manifest.write_text(json.dumps(body))
    changed = tick(instance, tmp_path, unchanged.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["oak-st"]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key
    assert changed.dynamic_partitions_requests == []  # the partition already exists

    manifest.write_text("{broken")
    invalid = tick(instance, tmp_path, changed.cursor)
    assert invalid.run_requests == []
    assert tick(instance, tmp_path, invalid.cursor).run_requests == []  # rejected once, not every tick


def test_same_manifest_content_gives_the_same_run_key(instance, tmp_path: Path, short_clip: Path) -> None:
    write_upload(tmp_path, "elm", {"a.mp4": short_clip})
    first = tick(instance, tmp_path, None)
    again = tick(instance, tmp_path, None)  # e.g. a lost cursor: Dagster's run_key dedup still holds
    assert first.run_requests[0].run_key == again.run_requests[0].run_key


def test_waits_for_listed_files_and_maps_unsafe_ids(instance, tmp_path: Path, short_clip: Path) -> None:
    folder = "12 Oak St, Unit 5"
    upload = write_upload(tmp_path, folder, {"a.mp4": short_clip})
    body = json.loads((upload / "manifest.json").read_text())
    body["videos"].append("b.mp4")
    (upload / "manifest.json").write_text(json.dumps(body))
    waiting = tick(instance, tmp_path, None)
    assert waiting.run_requests == []

    (upload / "b.mp4").write_bytes(short_clip.read_bytes())
    ready = tick(instance, tmp_path, waiting.cursor)
    [request] = ready.run_requests
    assert request.partition_key == property_key(folder)
    assert request.partition_key.startswith("12-oak-st-unit-5-")
    assert request.tags["redag/upload_folder"] == folder


def test_one_bad_upload_does_not_block_others(instance, tmp_path: Path, short_clip: Path) -> None:
    write_upload(tmp_path, "aaa-bad", {"a.mp4": short_clip})
    (tmp_path / "uploads/aaa-bad/manifest.json").write_text('{"videos": "nope"}')
    write_upload(tmp_path, "zzz-good", {"a.mp4": short_clip})
    result = tick(instance, tmp_path, None)
    assert [r.partition_key for r in result.run_requests] == ["zzz-good"]


def test_leaves_manifests_launched_by_their_uploader_alone(instance, tmp_path: Path, short_clip: Path) -> None:
    write_upload(tmp_path, "by-client", {"a.mp4": short_clip}, launch="client")
    write_upload(tmp_path, "by-sensor", {"a.mp4": short_clip}, launch="sensor")
    result = tick(instance, tmp_path, None)
    assert [r.partition_key for r in result.run_requests] == ["by-sensor"]
    assert not instance.has_dynamic_partition("property", "by-client")


def logged_tick(instance: DagsterInstance, root: Path, cursor: str | None) -> tuple[SensorResult, list]:
    context = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"store": LocalStore(root=str(root)), "limits": UploadLimits()})
    messages = Messages()
    context.log.addHandler(messages)
    return local_upload_sensor(context), messages.lines


def test_links_and_folders_are_named_at_once_and_once(instance, tmp_path: Path, short_clip: Path) -> None:
    root = tmp_path / "store"
    write_upload(root, "good", {"a.mp4": short_clip})
    outside = write_upload(tmp_path / "elsewhere", "stolen", {"a.mp4": short_clip})
    link_out = write_upload(root, "link-out", {"b.mp4": short_clip})
    (link_out / "a.mp4").symlink_to(outside / "a.mp4")
    link_in = write_upload(root, "link-in", {"b.mp4": short_clip})
    (link_in / "a.mp4").symlink_to(root / "uploads/good/a.mp4")
    a_folder = write_upload(root, "a-folder", {"b.mp4": short_clip})
    (a_folder / "a.mp4").mkdir()
    for upload in (link_out, link_in, a_folder):
        (upload / "manifest.json").write_text(json.dumps({"videos": ["a.mp4", "b.mp4"]}))
    (root / "uploads/linked-folder").symlink_to(outside)

    first, log = logged_tick(instance, root, None)
    assert [r.partition_key for r in first.run_requests] == ["good"]
    assert not [line for _, line in log if "waiting for" in line]
    errors = sorted(line for level, line in log if level == "ERROR")
    assert errors == [
        "uploads/a-folder/a.mp4: listed in uploads/a-folder/manifest.json is a folder, not a plain file; "
        "not requesting a run",
        "uploads/link-in/a.mp4: listed in uploads/link-in/manifest.json is a link, not a plain file; "
        "not requesting a run",
        "uploads/link-out/a.mp4: listed in uploads/link-out/manifest.json is a link pointing outside the store, "
        "not a plain file; not requesting a run",
        "uploads/linked-folder: the upload folder or its manifest is a link pointing outside the store; links "
        "and folders are never read as a manifest, so no run starts for it",
    ]
    again, log = logged_tick(instance, root, first.cursor)
    assert again.run_requests == [] and log == []  # said once, not on every tick


def test_an_unparseable_manifest_is_refused_once(instance, tmp_path: Path, short_clip: Path) -> None:
    upload = write_upload(tmp_path, "deep", {"a.mp4": short_clip})
    (upload / "manifest.json").write_text('{"videos": ["a.mp4"], "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    first, log = logged_tick(instance, tmp_path, None)
    assert first.run_requests == []
    [(level, line)] = log
    assert level == "ERROR"
    assert line.startswith("rejected uploads/deep/manifest.json: ")
    for _ in range(2):
        later, log = logged_tick(instance, tmp_path, first.cursor)
        assert later.run_requests == [] and log == []  # not read again until it changes


def test_a_replaced_video_requests_a_new_run(instance, tmp_path: Path, short_clip: Path, tiny_clip: Path) -> None:
    upload = write_upload(tmp_path, "oak-st", {"a.mp4": short_clip, "b.mp4": short_clip})
    first = tick(instance, tmp_path, None)
    [before] = first.run_requests
    assert tick(instance, tmp_path, first.cursor).run_requests == []

    replacement = upload / ".a.mp4.part"
    replacement.write_bytes(tiny_clip.read_bytes())
    os.replace(replacement, upload / "a.mp4")  # as an upload client finishing a re-upload
    [after] = tick(instance, tmp_path, first.cursor).run_requests
    assert after.partition_key == "oak-st" and after.run_key != before.run_key
    assert after.tags["redag/manifest_version"] == before.tags["redag/manifest_version"]
    assert after.tags["redag/inputs_version"] != before.tags["redag/inputs_version"]


def test_names_are_escaped_in_log_lines(instance, tmp_path: Path, short_clip: Path) -> None:
    folder = "x\nERROR forged: every upload deleted"
    write_upload(tmp_path, folder, {"a.mp4": short_clip}, music="gone.mp3")
    _, log = logged_tick(instance, tmp_path, None)
    assert log and all("\n" not in line for _, line in log)
    assert any("x\\nERROR forged" in line for _, line in log)


def test_a_cursor_from_before_file_versions_does_not_rerun_everything(instance, tmp_path: Path,
                                                                      short_clip: Path) -> None:
    upload = write_upload(tmp_path, "oak-st", {"a.mp4": short_clip})
    stat = (upload / "manifest.json").stat()
    old = json.dumps({"done": {"oak-st": f"{stat.st_mtime_ns}-{stat.st_size}"}, "waiting": {}, "after": ""})
    upgraded = tick(instance, tmp_path, old)
    assert upgraded.run_requests == []
    (upload / "a.mp4").write_bytes(short_clip.read_bytes()[:-1000])
    assert [r.partition_key for r in tick(instance, tmp_path, upgraded.cursor).run_requests] == ["oak-st"]


def test_photos_start_a_run_and_a_replaced_photo_starts_another(instance, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "uploads" / "pine-st"
    (folder / "photos").mkdir(parents=True)
    Image.new("RGB", (64, 48), "white").save(folder / "photos" / "front.jpg")
    (folder / "manifest.json").write_text(json.dumps({"photos": ["photos/front.jpg", "photos/back.jpg"]}))
    waiting = tick(instance, tmp_path, None)
    assert waiting.run_requests == []  # a listed photo is still missing
    Image.new("RGB", (64, 48), "grey").save(folder / "photos" / "back.jpg")
    first = tick(instance, tmp_path, waiting.cursor)
    assert [r.partition_key for r in first.run_requests] == ["pine-st"]
    Image.new("RGB", (64, 48), "black").save(folder / "photos" / "back.jpg")
    os.utime(folder / "photos" / "back.jpg", (1, 1))
    replaced = tick(instance, tmp_path, first.cursor)
    assert [r.partition_key for r in replaced.run_requests] == ["pine-st"]
    assert replaced.run_requests[0].run_key != first.run_requests[0].run_key

    (tmp_path / "uploads" / "ash-st" / "photos").mkdir(parents=True)  # photos/ alone, no list: its files
    Image.new("RGB", (64, 48), "white").save(tmp_path / "uploads" / "ash-st" / "photos" / "a.png")
    (tmp_path / "uploads" / "ash-st" / "manifest.json").write_text("{}")
    assert [r.partition_key for r in tick(instance, tmp_path, replaced.cursor).run_requests] == ["ash-st"]
