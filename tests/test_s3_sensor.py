"""The S3 upload sensor, evaluated with build_sensor_context against moto's S3 server."""

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context
from media_helpers import Messages, ffmpeg
from s3_server import client, moto_s3, new_store

from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.sensors.uploads import etag_version, evaluate_uploads, s3_upload_sensor


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def clip(source_video: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Three seconds of the real footage."""
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    ffmpeg("-i", str(source_video), "-t", "3", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out))
    return out.read_bytes()


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def store(endpoint: str, tmp_path: Path) -> S3Store:
    return new_store(endpoint, tmp_path, prefix="listings")


def tick(instance: DagsterInstance, store: S3Store, cursor: str | None, evaluate=s3_upload_sensor,
         limits: UploadLimits | None = None) -> tuple[SensorResult, list[tuple[str, str]]]:
    """One evaluation, as the daemon would run it; returns the result and what the sensor logged."""
    context = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"store": store, "limits": limits or UploadLimits()})
    messages = Messages()
    context.log.addHandler(messages)
    result = evaluate(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result, messages.lines


def put(store: S3Store, key: str, body: bytes) -> str:
    """Upload as a user's client would; returns the object's ETag."""
    s3 = client(store.endpoint_url)
    full = f"{store.prefix}/{key}"
    s3.put_object(Bucket=store.bucket, Key=full, Body=body)
    return s3.head_object(Bucket=store.bucket, Key=full)["ETag"].strip('"')


def manifest(videos: list[str], **fields: object) -> bytes:
    return json.dumps({"videos": videos, **fields}).encode()


def test_manifest_before_its_videos_waits_then_runs_once(instance, store: S3Store, clip: bytes) -> None:
    etag = put(store, "uploads/oak-st/manifest.json", manifest(["a.mp4", "b.mp4"]))
    waiting, log = tick(instance, store, None)
    assert waiting.run_requests == [] and waiting.dynamic_partitions_requests == []
    assert ("INFO", "uploads/oak-st/manifest.json: waiting for a.mp4, b.mp4 (0 s so far, giving up after 3600 s)"
            ) in log

    put(store, "uploads/oak-st/a.mp4", clip)
    still, log = tick(instance, store, waiting.cursor)
    assert still.run_requests == []
    assert any("waiting for b.mp4 (" in line for _, line in log)

    put(store, "uploads/oak-st/b.mp4", clip)
    ready, _ = tick(instance, store, still.cursor)
    [request] = ready.run_requests
    assert request.partition_key == "oak-st" and request.run_key.startswith(f"oak-st:{etag}:")
    assert request.tags["redag/upload_folder"] == "oak-st" and request.tags["redag/manifest_version"] == etag
    assert instance.has_dynamic_partition("property", "oak-st")

    after, log = tick(instance, store, ready.cursor)
    assert after.run_requests == [] and log == []


def test_reuploaded_manifest_runs_once_per_etag(instance, store: S3Store, clip: bytes) -> None:
    put(store, "uploads/elm/a.mp4", clip)
    first_etag = put(store, "uploads/elm/manifest.json", manifest(["a.mp4"]))
    first, _ = tick(instance, store, None)
    [first_key] = [r.run_key for r in first.run_requests]
    assert first_key.startswith(f"elm:{first_etag}:")

    assert put(store, "uploads/elm/manifest.json", manifest(["a.mp4"])) == first_etag  # same bytes again
    same, _ = tick(instance, store, first.cursor)
    assert same.run_requests == []

    new_etag = put(store, "uploads/elm/manifest.json", manifest(["a.mp4"], options={"target_duration_s": 30}))
    assert new_etag != first_etag
    changed, _ = tick(instance, store, same.cursor)
    [changed_key] = [r.run_key for r in changed.run_requests]
    assert changed_key.startswith(f"elm:{new_etag}:") and changed_key.split(":")[2] == first_key.split(":")[2]
    assert changed.dynamic_partitions_requests == []  # the partition exists already

    lost_cursor, _ = tick(instance, store, None)  # Dagster drops a run_key it has seen: no second run
    assert [r.run_key for r in lost_cursor.run_requests] == [changed_key]


def test_gives_up_once_after_the_wait_limit(instance, store: S3Store, clip: bytes) -> None:
    impatient = UploadLimits(upload_wait_s=1)
    put(store, "uploads/pine/manifest.json", manifest(["a.mp4", "gone.mp4"]))
    put(store, "uploads/pine/a.mp4", clip)
    waiting, log = tick(instance, store, None, limits=impatient)
    assert waiting.run_requests == [] and log[0][0] == "INFO"
    time.sleep(1.1)

    gave_up, log = tick(instance, store, waiting.cursor, limits=impatient)
    assert gave_up.run_requests == []
    [(level, line)] = log
    assert level == "ERROR"
    assert re.match(r"uploads/pine/manifest\.json: gave up after waiting \d+ s for gone\.mp4, listed in the "
                    "manifest but not uploaded", line)
    quiet, log = tick(instance, store, gave_up.cursor, limits=impatient)
    assert quiet.run_requests == [] and log == []  # said once, not on every tick

    put(store, "uploads/pine/gone.mp4", clip)  # a late arrival still starts the property
    late, _ = tick(instance, store, quiet.cursor, limits=impatient)
    assert [r.partition_key for r in late.run_requests] == ["pine"]


def test_bad_manifests_do_not_stop_a_good_one(instance, store: S3Store, clip: bytes) -> None:
    put(store, "uploads/aaa-broken/manifest.json", b"{not json")
    put(store, "uploads/bbb-escape/manifest.json", manifest(["../../secret.mp4"]))
    put(store, "uploads/zzz-good/a.mp4", clip)
    put(store, "uploads/zzz-good/manifest.json", manifest(["a.mp4"]))
    result, log = tick(instance, store, None)
    assert [r.partition_key for r in result.run_requests] == ["zzz-good"]
    errors = [line for level, line in log if level == "ERROR"]
    assert len(errors) == 2
    assert errors[0].startswith("rejected uploads/aaa-broken/manifest.json: field '(file)'")
    assert "uploads/bbb-escape/manifest.json: field 'videos[0]'" in errors[1]
    again, log = tick(instance, store, result.cursor)
    assert again.run_requests == [] and log == []  # rejected once, until the manifest changes


def test_finds_manifests_among_thousands_of_keys_and_bounds_each_tick(instance, store: S3Store, clip: bytes) -> None:
    photos = [f"uploads/aaa-big-house/photos/{i:05d}.jpg" for i in range(1500)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: store.write_bytes(key, b"jpeg"), photos))
    for folder in ("mmm-one", "nnn-two", "zzz-three"):
        put(store, f"uploads/{folder}/a.mp4", clip)
        put(store, f"uploads/{folder}/manifest.json", manifest(["a.mp4"]))
    assert len(store.list_objects("uploads")) == 1506

    def two_runs_per_tick(context):
        return evaluate_uploads(context, context.resources.store, run_version=etag_version, wait_s=60, max_runs=2)

    first, log = tick(instance, store, None, two_runs_per_tick)
    assert [r.partition_key for r in first.run_requests] == ["mmm-one", "nnn-two"]
    assert ("INFO", "1 changed manifests wait for the next tick (at most 100 reads and 2 runs per tick)") in log
    second, _ = tick(instance, store, first.cursor, two_runs_per_tick)
    assert [r.partition_key for r in second.run_requests] == ["zzz-three"]
    third, _ = tick(instance, store, second.cursor, two_runs_per_tick)
    assert third.run_requests == []
