"""The local upload sensor, evaluated with build_sensor_context against a real instance."""

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context
from media_helpers import write_upload

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
