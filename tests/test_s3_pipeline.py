"""End to end on S3: upload -> sensor -> partition -> run -> results in the bucket, a presigned URL
that plays, and intermediates another machine can continue from."""

import io
import json
import urllib.request
from pathlib import Path

import av
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, build_sensor_context, materialize
from media_helpers import ffmpeg
from s3_server import client, moto_s3, new_store

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_file
from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.sensors.uploads import s3_upload_sensor

FOLDER = "12 Birch Rd"
KEY = property_key(FOLDER)


def resources(store: S3Store) -> dict:
    return {"store": store, "models": ModelRegistry(device="cpu"), "io_manager": StoreJsonIOManager(store=store),
            "limits": UploadLimits()}


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def finished(endpoint: str, source_video: Path, tmp_path_factory: pytest.TempPathFactory):
    walk = tmp_path_factory.mktemp("media") / "walk.mp4"
    ffmpeg("-i", str(source_video), "-t", "14", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(walk))
    store = new_store(endpoint, tmp_path_factory.mktemp("node-a"), prefix="prod")
    s3 = client(endpoint)
    s3.upload_file(str(walk), store.bucket, f"prod/uploads/{FOLDER}/walk.mp4")
    body = {"property_id": FOLDER, "videos": ["walk.mp4"], "listing": {"address": "12 Birch Rd", "price": 510000},
            "options": {"target_duration_s": 10}}
    s3.put_object(Bucket=store.bucket, Key=f"prod/uploads/{FOLDER}/manifest.json", Body=json.dumps(body).encode())
    uploads_before = {o.key: o.version for o in store.list_objects("uploads")}

    instance = DagsterInstance.ephemeral()
    tick = s3_upload_sensor(build_sensor_context(instance=instance,
                                                 resources={"store": store, "limits": UploadLimits()}))
    [request] = tick.run_requests
    for add in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
    run = materialize(list(defs.assets), partition_key=request.partition_key, instance=instance, tags=request.tags,
                      resources=resources(store), raise_on_error=False)
    yield store, instance, request, run, uploads_before
    instance.dispose()


def value(store: S3Store, asset: str) -> dict:
    return json.loads(store.read_bytes(f"work/{KEY}/values/{asset}.json"))


def test_sensor_run_publishes_results_to_the_bucket(finished) -> None:
    store, instance, request, run, uploads_before = finished
    assert request.partition_key == KEY and instance.has_dynamic_partition("property", KEY)
    assert run.success
    results = {o.key.removeprefix(f"results/{KEY}/") for o in store.list_objects(f"results/{KEY}")}
    assert results == {"current.json", *(f"runs/{run.run_id}/{name}" for name in (
        "showcase.mp4", "showcase_unbranded.mp4", "teaser.mp4", "chapters.vtt", "rooms.srt", "shots.parquet",
        "rooms.parquet", "quality.parquet", "clips.parquet", "photos.parquet", "narration.parquet"))}
    clips = pd.read_parquet(io.BytesIO(store.read_bytes(current_file(store, KEY, "clips.parquet"))))
    shots = pd.read_parquet(io.BytesIO(store.read_bytes(current_file(store, KEY, "shots.parquet"))))
    assert len(clips) >= 1 and len(shots) >= 2
    assert {o.key: o.version for o in store.list_objects("uploads")} == uploads_before  # uploads only read


def test_intermediates_are_store_keys_not_local_paths(finished) -> None:
    store, *_ = finished
    [video] = value(store, "video_frames")["videos"]
    frames = video["decoded"]["directory"]
    assert frames == f"work/{KEY}/frames/00-walk.mp4"
    assert store.exists(f"{frames}/shot_stream.u8") and store.exists(f"{frames}/times.npy")
    assert all(store.exists(f"{frames}/{s['file']}") for s in video["decoded"]["sampled"])
    [rooms] = value(store, "room_labels")["videos"]
    assert rooms["embeddings"] == f"work/{KEY}/rooms/00-embeddings.npy" and store.exists(rooms["embeddings"])


def test_presigned_url_downloads_a_playable_showcase(finished, endpoint: str, tmp_path: Path) -> None:
    store, _, _, run, _ = finished
    [event] = [e for e in run.get_asset_materialization_events() if e.asset_key == AssetKey("showcase_video")]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert meta["url"].startswith(f"{endpoint}/{store.bucket}/prod/results/{KEY}/runs/{run.run_id}/showcase.mp4?")
    assert "X-Amz-Signature=" in meta["url"] and f"X-Amz-Expires={store.url_expiry_s}" in meta["url"]
    local = tmp_path / "showcase.mp4"
    with urllib.request.urlopen(meta["url"], timeout=30) as response:
        local.write_bytes(response.read())
    with av.open(str(local)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.codec_context.width, video.codec_context.height) == ("h264", 1920, 1080)
        assert audio.codec_context.name == "aac"
        assert container.duration / 1e6 == pytest.approx(meta["duration_s"], abs=0.1)
        decoded = sum(1 for _ in container.decode(video))
    assert decoded >= 29 * meta["duration_s"] > 29 * 3  # the whole file decodes, not a truncated object


def test_another_machine_continues_from_the_store(finished, tmp_path: Path) -> None:
    store, instance, _, _, _ = finished
    node_b = S3Store(**{**store.model_dump(), "cache_dir": str(tmp_path / "node-b")})
    clips_before = value(store, "selected_clips")["clips"]
    rerun = materialize(list(defs.assets), selection=AssetSelection.assets("quality_scores", "selected_clips"),
                        partition_key=KEY, instance=instance, resources=resources(node_b))
    assert rerun.success
    fetched = tmp_path / "node-b" / store.bucket / "prod" / "objects" / "work" / KEY / "frames" / "00-walk.mp4"
    assert (fetched / "shot_stream.u8").is_file() and list((fetched / "sampled").glob("*.jpg"))
    assert value(store, "selected_clips")["clips"] == clips_before  # same inputs, same edit
