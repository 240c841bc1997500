"""Storage faults injected on a real loopback server, then recovered: S3Store, boto3 and Dagster talk to
moto's S3 server through tests/fault_proxy.py, which answers chosen requests with 503 SlowDown,
500 InternalError or a dropped connection. Checks go straight to moto, around the proxy."""

import json
import logging
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, ConnectionClosedError
from dagster import DagsterEventType, DagsterInstance, build_sensor_context, materialize
from fault_proxy import FaultProxy, fault_proxy
from media_helpers import ffmpeg
from s3_server import client, moto_s3, new_store

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.render import inspect_video
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_file
from real_estate_dag.resources.s3_store import MB, S3Store
from real_estate_dag.sensors.uploads import s3_upload_sensor

PREFIX = "faults"


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def module_proxy(endpoint: str):
    with fault_proxy(endpoint) as proxy:
        yield proxy


@pytest.fixture
def proxy(module_proxy: FaultProxy) -> FaultProxy:
    module_proxy.heal()
    module_proxy.traffic.requests.clear()
    return module_proxy


@pytest.fixture(scope="module")
def clip(source_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve seconds of the real footage: 300 frames with several cuts."""
    out = tmp_path_factory.mktemp("clip") / "walk.mp4"
    ffmpeg("-i", str(source_video), "-t", "12", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out))
    return out


def faulty_store(endpoint: str, proxy: FaultProxy, cache: Path, max_attempts: int) -> S3Store:
    """An S3Store on a new bucket whose every request goes through the proxy."""
    direct = new_store(endpoint, cache, prefix=PREFIX)
    return S3Store(**{**direct.model_dump(), "endpoint_url": proxy.url, "max_attempts": max_attempts})


def raw(store: S3Store, endpoint: str, key: str) -> bytes:
    """An object's bytes fetched straight from moto, not through the proxy."""
    return client(endpoint).get_object(Bucket=store.bucket, Key=f"{PREFIX}/{key}")["Body"].read()


def test_store_operations_recover_from_a_few_faults(endpoint: str, proxy: FaultProxy, clip: Path,
                                                     tmp_path: Path) -> None:
    store = faulty_store(endpoint, proxy, tmp_path / "cache", max_attempts=4)
    video = clip.read_bytes()

    proxy.fail(2, "slowdown", "PUT", "/uploads/p/walk.mp4$")
    store.write_bytes("uploads/p/walk.mp4", video)
    assert proxy.traffic.to("PUT", "/uploads/p/walk.mp4$") == ["slowdown", "slowdown", "forwarded"]
    assert raw(store, endpoint, "uploads/p/walk.mp4") == video
    with urllib.request.urlopen(store.url("uploads/p/walk.mp4"), timeout=30) as response:
        assert response.read() == video  # a presigned URL through the proxy: signature and Host pass unchanged

    proxy.fail(1, "internal", "GET", "list-type=2")
    proxy.fail(1, "drop", "GET", "list-type=2")
    [listed] = store.list_objects("uploads")
    assert (listed.key, listed.size) == ("uploads/p/walk.mp4", len(video))
    assert proxy.traffic.to("GET", "list-type=2") == ["internal", "drop", "forwarded"]

    proxy.fail(1, "drop", "GET", "/uploads/p/walk.mp4$")
    proxy.fail(2, "internal", "GET", "/uploads/p/walk.mp4$")
    assert store.read_bytes("uploads/p/walk.mp4") == video

    proxy.fail(1, "slowdown", "HEAD")
    proxy.fail(2, "drop", "GET", "/uploads/p/walk.mp4$")
    downloaded = store.local_path("uploads/p/walk.mp4")
    assert downloaded.read_bytes() == video and downloaded.is_relative_to(tmp_path / "cache")
    assert proxy.traffic.to("HEAD", "/uploads/p/walk.mp4$")[:2] == ["slowdown", "forwarded"]  # then the download's

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * MB + 321))
    proxy.fail(1, "internal", "POST", r"\?uploads")  # CreateMultipartUpload
    proxy.fail(2, "drop", "PUT", "partNumber=2")  # UploadPart
    proxy.fail(1, "slowdown", "POST", "uploadId=")  # CompleteMultipartUpload
    store.publish(big, "results/p/showcase.mp4")
    head = client(endpoint).head_object(Bucket=store.bucket, Key=f"{PREFIX}/results/p/showcase.mp4")
    assert head["ETag"].strip('"').endswith("-2")  # two parts, each whole despite the dropped attempts
    assert raw(store, endpoint, "results/p/showcase.mp4") == big.read_bytes()
    assert proxy.traffic.to("PUT", "partNumber=2") == ["drop", "drop", "forwarded"]

    assert proxy.pending() == 0
    assert proxy.traffic.injected() == 14
    assert [proxy.traffic.injected(kind) for kind in ("drop", "slowdown", "internal")] == [6, 4, 4]
    assert proxy.traffic.forwarded() >= 9  # every operation got through in the end


def test_more_faults_than_attempts_fail_clearly_and_publish_nothing(endpoint: str, proxy: FaultProxy, clip: Path,
                                                                    tmp_path: Path) -> None:
    store = faulty_store(endpoint, proxy, tmp_path / "cache", max_attempts=3)
    store.publish(clip, "results/p/teaser.mp4")
    newer = tmp_path / "newer.mp4"
    ffmpeg("-i", str(clip), "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-an", str(newer))

    proxy.fail(3, "slowdown", "PUT", "/results/p/teaser.mp4$")
    with pytest.raises(S3UploadFailedError, match=r"SlowDown.*PutObject.*reached max retries: 2"):
        store.publish(newer, "results/p/teaser.mp4")
    assert raw(store, endpoint, "results/p/teaser.mp4") == clip.read_bytes()  # the previous result, intact

    old, new = tmp_path / "old.bin", tmp_path / "new.bin"
    old.write_bytes(os.urandom(9 * MB))
    new.write_bytes(os.urandom(9 * MB))
    store.publish(old, "results/p/showcase.mp4")
    proxy.fail(3, "internal", "POST", "uploadId=")  # every CompleteMultipartUpload attempt
    with pytest.raises(S3UploadFailedError, match=r"InternalError.*CompleteMultipartUpload.*reached max retries: 2"):
        store.publish(new, "results/p/showcase.mp4")
    s3 = client(endpoint)
    assert raw(store, endpoint, "results/p/showcase.mp4") == old.read_bytes()
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=store.bucket)  # the parts were aborted, not left
    assert proxy.traffic.to("DELETE", "uploadId=") == ["forwarded"]

    proxy.fail(3, "drop", "GET", "/results/p/teaser.mp4$")
    with pytest.raises(ConnectionClosedError, match="Connection was closed before we received a valid response"):
        store.read_bytes("results/p/teaser.mp4")
    proxy.fail(3, "slowdown", "GET", "list-type=2")
    with pytest.raises(ClientError, match=r"SlowDown.*ListObjectsV2.*reached max retries: 2"):
        store.list_objects("results")
    assert proxy.pending() == 0 and proxy.traffic.injected() == 12
    assert store.read_bytes("results/p/teaser.mp4") == clip.read_bytes()  # fine again once the faults stop


def causes(error) -> list[str]:
    """The class names along a serialised error's chain of causes."""
    names = []
    while error is not None:
        names.append(error.cls_name)
        error = error.cause or error.context
    return names


def step_events(result, event_type: DagsterEventType) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type == event_type]


def test_steps_fail_past_client_retries_then_dagster_retries_them(endpoint: str, proxy: FaultProxy, clip: Path,
                                                                 tmp_path: Path) -> None:
    store = faulty_store(endpoint, proxy, tmp_path / "cache", max_attempts=2)
    s3 = client(endpoint)
    manifest = {"property_id": "7 Fault Ln", "videos": ["walk.mp4"], "options": {"target_duration_s": 10}}
    s3.put_object(Bucket=store.bucket, Key=f"{PREFIX}/uploads/fault-ln/walk.mp4", Body=clip.read_bytes())
    s3.put_object(Bucket=store.bucket, Key=f"{PREFIX}/uploads/fault-ln/manifest.json",
                  Body=json.dumps(manifest).encode())
    uploads_before = uploads(store, endpoint)

    # two consecutive faults use up a request's two attempts, so each of these steps fails its first attempt
    proxy.fail(2, "slowdown", "GET", "/uploads/fault-ln/manifest.json$")  # property_manifest reading the manifest
    proxy.fail(2, "internal", "PUT", "/frames/00-walk.mp4/times.npy$")  # the analysis step saving what it decoded
    proxy.fail(2, "drop", "PUT", "/work/fault-ln/tables/clips.parquet$")  # selected_clips staging the edit
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("property", ["fault-ln"])
        result = materialize(list(defs.assets), partition_key="fault-ln", instance=instance, raise_on_error=False,
                             resources={"store": store, "models": ModelRegistry(device="cpu"),
                                        "io_manager": StoreJsonIOManager(store=store), "limits": UploadLimits()})
        asked = [e.step_key for e in instance.all_logs(result.run_id)
                 if e.user_message.startswith("transient fault; the step will be retried")]
    assert result.success
    # no step has a retry policy: each asked for its retry because the fault is transient
    assert asked == ["property_manifest", "video_analysis", "selected_clips"]
    assert proxy.pending() == 0 and proxy.traffic.injected() == 6
    retried = ["property_manifest", "video_analysis", "selected_clips"]
    assert step_events(result, DagsterEventType.STEP_UP_FOR_RETRY) == retried
    assert step_events(result, DagsterEventType.STEP_RESTARTED) == retried
    assert step_events(result, DagsterEventType.STEP_FAILURE) == []
    errors = [e.event_specific_data.error for e in result.all_events
              if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert [causes(e)[1:] for e in errors] == [
        ["ClientError"],  # GetObject: 503
        ["S3UploadFailedError", "ClientError"],  # PutObject: InternalError
        ["ConnectionClosedError", "ProtocolError", "RemoteDisconnected"],  # PutObject: no response at all
    ]
    assert proxy.traffic.to("PUT", "/work/fault-ln/tables/clips.parquet$") == ["drop", "drop", "forwarded"]

    [video] = json.loads(raw(store, endpoint, "work/fault-ln/values/video_frames.json"))["videos"]
    assert video["decoded"]["frame_count"] == 300  # 12 s at 25 fps
    folder = video["decoded"]["directory"]
    (tmp_path / "times.npy").write_bytes(raw(store, endpoint, f"{folder}/times.npy"))
    assert len(np.load(tmp_path / "times.npy")) == 300
    results = {o["Key"].rsplit("/", 1)[1] for o in s3.list_objects_v2(
        Bucket=store.bucket, Prefix=f"{PREFIX}/results/fault-ln/")["Contents"]}
    assert results == {"current.json", "showcase.mp4", "showcase_unbranded.mp4", "teaser.mp4", "chapters.vtt",
                       "rooms.srt", "shots.parquet", "rooms.parquet", "quality.parquet", "clips.parquet",
                       "photos.parquet", "narration.parquet"}
    showcase = tmp_path / "showcase.mp4"
    showcase.write_bytes(raw(store, endpoint, current_file(store, "fault-ln", "showcase.mp4")))
    rendered = inspect_video(showcase)
    assert (rendered.width, rendered.height, rendered.video_codec, rendered.audio_codec) == (1920, 1080, "h264", "aac")
    assert rendered.duration_s > 4  # title card and the clips of the 12 s montage that are 2 s or longer
    assert uploads(store, endpoint) == uploads_before


def uploads(store: S3Store, endpoint: str) -> dict[str, tuple[str, bytes]]:
    """Every upload's ETag and bytes, straight from moto."""
    listing = client(endpoint).list_objects_v2(Bucket=store.bucket, Prefix=f"{PREFIX}/uploads/")["Contents"]
    return {o["Key"]: (o["ETag"], raw(store, endpoint, o["Key"].removeprefix(f"{PREFIX}/"))) for o in listing}


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_upload_sensor_survives_a_fault_burst_and_runs_the_property_after(endpoint: str, proxy: FaultProxy,
                                                                          clip: Path, tmp_path: Path) -> None:
    store = faulty_store(endpoint, proxy, tmp_path / "cache", max_attempts=2)
    s3 = client(endpoint)
    s3.put_object(Bucket=store.bucket, Key=f"{PREFIX}/uploads/gale/walk.mp4", Body=clip.read_bytes())
    s3.put_object(Bucket=store.bucket, Key=f"{PREFIX}/uploads/gale/manifest.json",
                  Body=json.dumps({"videos": ["walk.mp4"]}).encode())

    with DagsterInstance.ephemeral() as instance:
        def tick(cursor: str | None):
            context = build_sensor_context(instance=instance, cursor=cursor,
                                           resources={"store": store, "limits": UploadLimits()})
            errors = Errors()
            context.log.addHandler(errors)  # what the daemon would show in the tick's log
            return s3_upload_sensor(context), errors.lines

        proxy.fail(2, "drop", "GET", "list-type=2")  # the listing fails: the tick fails, the cursor stays
        with pytest.raises(ConnectionClosedError):
            tick(None)

        proxy.fail(2, "slowdown", "GET", "/uploads/gale/manifest.json$")  # the manifest read fails
        failed, errors = tick(None)
        assert failed.run_requests == [] and failed.dynamic_partitions_requests == []
        [error] = errors
        assert error.startswith("uploads/gale/manifest.json: could not be read (ClientError: An error occurred "
                                "(SlowDown)") and error.endswith("trying again next tick")
        assert "gale" not in json.loads(failed.cursor)["done"]  # not lost: still to do

        recovered, errors = tick(failed.cursor)
        assert errors == []
        [request] = recovered.run_requests
        assert request.partition_key == "gale" and request.run_key.startswith("gale:")
        assert [list(r.partition_keys) for r in recovered.dynamic_partitions_requests] == [["gale"]]
    assert proxy.pending() == 0 and proxy.traffic.injected() == 4
