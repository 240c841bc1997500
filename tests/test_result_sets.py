"""Result sets on both stores (a local folder, moto's S3 server over HTTP): the swap, the previous
set kept, older sets removed, and a set that fails part-way (a real full tmpfs) leaving no trace."""

import errno
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from s3_server import moto_s3, new_store

from real_estate_dag.ops.ffmpeg import FfmpegDiskFullError
from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.render import RenderClip, render_area, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card
from real_estate_dag.resources.results import (
    current_file,
    publish_result_set,
    read_current,
    stage_table,
    staged_tables,
)
from real_estate_dag.resources.store import LocalStore, Store


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(root=str(tmp_path / "store"))
    return new_store(request.getfixturevalue("endpoint"), tmp_path / "cache", prefix="prod")


def make_files(folder: Path, tag: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in ("showcase.mp4", "clips.parquet"):
        files[name] = folder / name
        files[name].write_bytes(f"{tag} {name}".encode() * 100)
    return files


def set_ids(store: Store, key: str) -> list[str]:
    return store.list_folders(f"results/{key}/runs")


def test_a_new_set_replaces_the_current_one_and_the_previous_is_kept(store: Store, tmp_path: Path) -> None:
    first = publish_result_set(store, "p", "run-1", make_files(tmp_path / "a", "one"))
    assert read_current(store, "p") == first and first["previous_set_id"] is None
    second = publish_result_set(store, "p", "run-2", make_files(tmp_path / "b", "two"))
    current = read_current(store, "p")
    assert current == second and current["previous_set_id"] == "run-1"
    assert store.read_bytes(current_file(store, "p", "showcase.mp4")) == b"two showcase.mp4" * 100
    entry = current["files"]["clips.parquet"]
    assert entry["key"] == "results/p/runs/run-2/clips.parquet" and entry["size"] == len(b"two clips.parquet") * 100
    assert entry["sha256"] == hashlib.sha256((tmp_path / "b" / "clips.parquet").read_bytes()).hexdigest()
    assert set_ids(store, "p") == ["run-1", "run-2"]

    publish_result_set(store, "p", "run-3", make_files(tmp_path / "c", "three"))
    assert set_ids(store, "p") == ["run-2", "run-3"]  # the set before the previous one is deleted
    assert read_current(store, "p")["previous_set_id"] == "run-2"


def test_a_set_that_fails_part_way_leaves_the_current_set_and_no_partial_files(store: Store, tmp_path: Path) -> None:
    publish_result_set(store, "p", "run-1", make_files(tmp_path / "a", "one"))
    before = store.read_bytes("results/p/current.json")
    files = make_files(tmp_path / "b", "two")
    files["rooms.parquet"] = tmp_path / "b" / "never-written.parquet"  # fails after showcase.mp4 went up
    with pytest.raises(FileNotFoundError, match=r"never-written\.parquet"):
        publish_result_set(store, "p", "run-2", files)
    assert store.read_bytes("results/p/current.json") == before
    assert set_ids(store, "p") == ["run-1"]
    assert store.read_bytes(current_file(store, "p", "showcase.mp4")) == b"one showcase.mp4" * 100


def test_the_same_run_publishing_again_gets_a_set_of_its_own(store: Store, tmp_path: Path) -> None:
    """A step retried in the run that already published must not rewrite the current set in place."""
    publish_result_set(store, "p", "run-1", make_files(tmp_path / "a", "one"))
    again = publish_result_set(store, "p", "run-1", make_files(tmp_path / "b", "two"))
    assert again["set_id"].startswith("run-1-") and again["previous_set_id"] == "run-1"
    assert store.read_bytes("results/p/runs/run-1/showcase.mp4") == b"one showcase.mp4" * 100


def test_tables_are_staged_in_work_and_read_back_for_the_set(store: Store) -> None:
    url = stage_table(store, "p", "clips", [{"order": 0, "video": "a.mp4"}])
    assert "work/p/tables/clips.parquet" in url
    assert not store.list_objects("results")  # nothing is published by staging
    [local] = staged_tables(store, "p", ["clips"]).values()
    assert pd.read_parquet(local)["video"].tolist() == ["a.mp4"]
    assert [o.key.rsplit("/", 1)[1] for o in store.list_objects("work/p/tables")] == ["clips.parquet"]
    with pytest.raises(RuntimeError, match=r"work/p/tables/rooms\.parquet is missing"):
        staged_tables(store, "p", ["clips", "rooms"])



def test_a_full_disk_while_publishing_a_set_keeps_the_previous_one_and_names_the_file(
    small_fs: Path, tmp_path: Path
) -> None:
    store = LocalStore(root=str(small_fs / "store"))
    publish_result_set(store, "p", "run-1", make_files(tmp_path / "a", "one"))
    before = store.read_bytes("results/p/current.json")
    files = make_files(tmp_path / "b", "two")
    (tmp_path / "b" / "showcase.mp4").write_bytes(os.urandom(256 * 1024))  # more than is left
    with pytest.raises(OSError, match=r"No space left on device \(publishing results/p/runs/run-2/showcase\.mp4") as e:
        publish_result_set(store, "p", "run-2", files)
    assert e.value.errno == errno.ENOSPC and e.value.filename.endswith("results/p/runs/run-2/showcase.mp4")
    assert store.read_bytes("results/p/current.json") == before
    assert [o.key for o in store.list_objects("results")] == [
        "results/p/current.json", "results/p/runs/run-1/clips.parquet", "results/p/runs/run-1/showcase.mp4"]
    assert json.loads(before)["run_id"] == "run-1"


def test_a_full_disk_while_staging_a_table_names_the_file(small_fs: Path) -> None:
    store = LocalStore(root=str(small_fs / "store"))
    rows = [{"frame": i, "noise": os.urandom(32).hex()} for i in range(4000)]  # ~300 KB of parquet
    with pytest.raises(OSError, match="writing the quality table failed") as exc:
        stage_table(store, "p", "quality", rows)
    assert exc.value.errno == errno.ENOSPC and "work/p/tables/" in exc.value.filename
    assert store.list_objects("work") == []  # no half table, no temporary


def test_a_full_disk_during_a_render_is_an_os_error_naming_the_file_and_frees_its_area(
    small_fs: Path, short_clip: Path, tmp_path: Path
) -> None:
    title = draw_title_card(Listing(address="1 Full Disk Rd"), "disk-full", (640, 360), tmp_path / "title.png")
    area = small_fs / "work" / "p" / "render"
    area.mkdir(parents=True)
    (area / ".tmp-99-showcase.mp4").write_bytes(bytes(32 * 1024))  # what a killed attempt left
    with pytest.raises(FfmpegDiskFullError) as exc, render_area(area) as folder:
        assert list(folder.iterdir()) == []
        render_showcase([RenderClip(short_clip, 0.0, 20.0, True, 16 / 9)], title, folder / "showcase.mp4",
                        (640, 360), title_s=2.0, crossfade_s=0.5)
    assert isinstance(exc.value, OSError) and exc.value.errno == errno.ENOSPC
    assert exc.value.filename.endswith("showcase.mp4") and "ffmpeg ran out of disk space" in str(exc.value)
    assert not area.exists()  # nothing of the failed attempt holds the space a retry needs


def test_a_full_disk_while_writing_current_json_names_the_file_and_keeps_the_old_one(small_fs: Path) -> None:
    store = LocalStore(root=str(small_fs / "store"))
    store.write_bytes("results/p/current.json", b'{"set_id": "run-1"}')
    with pytest.raises(OSError, match=r"No space left on device \(writing results/p/current\.json\)") as e:
        store.write_bytes("results/p/current.json", b"x" * 256 * 1024)
    assert e.value.errno == errno.ENOSPC and e.value.filename.endswith("results/p/current.json")
    assert store.read_bytes("results/p/current.json") == b'{"set_id": "run-1"}'
    assert [o.key for o in store.list_objects("results")] == ["results/p/current.json"]
