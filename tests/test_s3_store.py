"""S3Store against moto's S3 server over real HTTP: paging, multipart, cache, presigned URLs, key safety."""

import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import EnvVar
from s3_server import client, moto_s3, new_store

from real_estate_dag.resources.env import store_from_env
from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.resources.store import LocalStore, UnsafeKeyError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


def test_lists_past_one_page_of_keys_and_folders(endpoint: str, tmp_path: Path) -> None:
    store = new_store(endpoint, tmp_path, prefix="tenant-a")
    keys = [f"uploads/p{i:04d}/front.mp4" for i in range(1200)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.write_bytes(k, k.encode()), [*keys, "uploads/p0007/photos/a.jpg"]))
    store.write_bytes("results/elsewhere.txt", b"x")

    objects = store.list_objects("uploads")
    assert len(objects) == 1201  # S3 returns at most 1000 keys per page
    assert [o.key for o in objects] == sorted([*keys, "uploads/p0007/photos/a.jpg"])
    assert objects[0].size == len(keys[0]) and len(objects[0].version) == 32  # the ETag (MD5 of a PUT)
    assert store.list_folders("uploads") == [f"p{i:04d}" for i in range(1200)]
    assert store.list_folders("uploads/p0007") == ["photos"]
    # everything lives under the configured prefix of the bucket
    raw = client(endpoint).list_objects_v2(Bucket=store.bucket, MaxKeys=5)["Contents"]
    assert all(o["Key"].startswith("tenant-a/") for o in raw)


def test_multipart_publish_of_a_large_file(endpoint: str, tmp_path: Path) -> None:
    store = new_store(endpoint, tmp_path / "cache")
    big = tmp_path / "big.mp4"
    data = os.urandom(9 * 1024 * 1024 + 123)
    big.write_bytes(data)
    url = store.publish(big, "results/p/showcase.mp4")
    head = client(endpoint).head_object(Bucket=store.bucket, Key="results/p/showcase.mp4")
    assert head["ETag"].strip('"').endswith("-2")  # two parts of 8 MiB and the rest
    assert head["ContentLength"] == len(data)
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == data
    assert store.read_bytes("results/p/showcase.mp4") == data


def test_local_path_reuses_the_cache_while_the_etag_matches(endpoint: str, tmp_path: Path) -> None:
    store = new_store(endpoint, tmp_path)
    store.write_bytes("uploads/p/a.mp4", b"first version")
    path = store.local_path("uploads/p/a.mp4")
    assert path.read_bytes() == b"first version" and path.is_relative_to(tmp_path)
    stamp = path.stat().st_mtime_ns, path.stat().st_ino

    again = store.local_path("uploads/p/a.mp4")
    assert again == path and (again.stat().st_mtime_ns, again.stat().st_ino) == stamp  # not fetched again
    fresh_process = S3Store(**store.model_dump())  # a new process on the same machine shares the cache
    assert fresh_process.local_path("uploads/p/a.mp4").stat().st_ino == stamp[1]

    store.write_bytes("uploads/p/a.mp4", b"second, longer version")
    assert store.local_path("uploads/p/a.mp4").read_bytes() == b"second, longer version"


def test_work_folders_reach_another_machine_through_the_store(endpoint: str, tmp_path: Path) -> None:
    writer = new_store(endpoint, tmp_path / "node-a")
    folder = writer.work_dir("p", "frames", "00-a.mp4")
    (folder / "sampled").mkdir()
    (folder / "times.npy").write_bytes(b"t" * 100)
    (folder / "sampled" / "0000000.jpg").write_bytes(b"j" * 50)
    writer.save_dir("work/p/frames/00-a.mp4")
    assert writer.exists("work/p/frames/00-a.mp4/sampled/0000000.jpg")

    reader = S3Store(**{**writer.model_dump(), "cache_dir": str(tmp_path / "node-b")})
    local = reader.local_dir("work/p/frames/00-a.mp4")
    assert local.is_relative_to(tmp_path / "node-b")
    assert (local / "times.npy").read_bytes() == b"t" * 100
    assert (local / "sampled" / "0000000.jpg").read_bytes() == b"j" * 50
    # on the writing machine the saved folder is already the cached copy: nothing is downloaded
    stamp = (folder / "times.npy").stat().st_mtime_ns
    assert writer.local_dir("work/p/frames/00-a.mp4") == folder
    assert (folder / "times.npy").stat().st_mtime_ns == stamp


def test_missing_objects_and_unsafe_keys(endpoint: str, tmp_path: Path) -> None:
    store = new_store(endpoint, tmp_path / "cache")
    assert not store.exists("uploads/p/none.mp4")
    with pytest.raises(FileNotFoundError, match=r"uploads/p/none\.mp4"):
        store.read_bytes("uploads/p/none.mp4")
    with pytest.raises(FileNotFoundError, match=r"uploads/p/none\.mp4"):
        store.local_path("uploads/p/none.mp4")
    for key in ["", "/etc/passwd", "../outside", "uploads/../../x", "uploads//a", "./a", "a\\b", "a\x00b"]:
        with pytest.raises(UnsafeKeyError):
            store.write_bytes(key, b"x")
        with pytest.raises(UnsafeKeyError):
            store.local_path(key)
    assert client(endpoint).list_objects_v2(Bucket=store.bucket).get("KeyCount") == 0
    assert not (tmp_path / "outside").exists() and not (tmp_path / "x").exists()


def test_store_and_sensor_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REDAG_STORE", raising=False)
    assert isinstance(store_from_env(), LocalStore)
    monkeypatch.setenv("REDAG_STORE", "s3")
    monkeypatch.setenv("REDAG_S3_BUCKET", "listings")
    monkeypatch.setenv("REDAG_S3_PREFIX", "prod")
    monkeypatch.setenv("REDAG_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("REDAG_CACHE_DIR", str(tmp_path))
    store = store_from_env()
    assert isinstance(store, S3Store) and isinstance(store.bucket, EnvVar)  # the UI shows where it came from
    resolved = store.process_config_and_initialize()
    assert (resolved.bucket, resolved.prefix, resolved.endpoint_url, resolved.cache_dir) == (
        "listings", "prod", "http://127.0.0.1:9000", str(tmp_path))
    monkeypatch.setenv("REDAG_STORE", "gcs")
    with pytest.raises(ValueError, match="REDAG_STORE='gcs'"):
        store_from_env()

    # the code location picks its upload sensor from the same setting
    probe = "from real_estate_dag.definitions import defs; print([s.name for s in defs.sensors])"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "REDAG_STORE": "s3"})
    sensors = out.stdout.strip()
    assert "'s3_upload_sensor'" in sensors and "local_upload_sensor" not in sensors
