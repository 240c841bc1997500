"""A run reads exactly the upload it was launched for, and only as it was when probed: the
``redag/upload_folder`` tag binds the folder, several folders mapping to one key are refused without
it, and a video replaced while the run goes on fails the run instead of mixing two uploads."""

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from media_helpers import SHOWCASE_ONLY, write_upload

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import LocalStore
from real_estate_dag.resources.uploads import FOLDER_TAG

VICTIM = "12 Victim St, Apt 3"
KEY = property_key(VICTIM)


def resources(root: Path) -> dict:
    store = LocalStore(root=str(root))
    return {"store": store, "models": ModelRegistry(device="cpu"), "io_manager": StoreJsonIOManager(store=store),
            "limits": UploadLimits()}


def manifest_run(root: Path, key: str, tags: dict[str, str] | None = None):
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", [key])
    return materialize(list(defs.assets), selection=AssetSelection.assets("property_manifest"), partition_key=key,
                       instance=instance, resources=resources(root), tags=tags, raise_on_error=False)


def failure(result) -> str:
    # every step that reads the upload (analysis, narration, photos, ...) fails with the same message
    [description] = {e.event_specific_data.user_failure_data.description for e in result.all_events
                     if e.event_type_value == "STEP_FAILURE"}
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    return description


@pytest.fixture
def hijacked(tmp_path: Path, tiny_clip: Path, short_clip: Path) -> Path:
    """The victim's upload, and another folder named exactly like the victim's partition key."""
    write_upload(tmp_path, VICTIM, {"walk.mp4": tiny_clip}, listing={"address": VICTIM})
    write_upload(tmp_path, KEY, {"walk.mp4": short_clip}, listing={"address": "Someone Else's Rd"})
    write_upload(tmp_path, "someone-else", {"walk.mp4": short_clip})
    return tmp_path


def test_a_launch_without_the_tag_refuses_two_folders_for_one_key(hijacked: Path) -> None:
    message = failure(manifest_run(hijacked, KEY))
    assert message == (f"upload folders {VICTIM!r}, {KEY!r} all map to property key {KEY!r}; launch the run with "
                       f"the tag {FOLDER_TAG}=<folder> (the upload sensor and the CLI do) or rename one")


def test_the_tagged_folder_is_the_one_read(hijacked: Path, tiny_clip: Path) -> None:
    result = manifest_run(hijacked, KEY, {FOLDER_TAG: VICTIM})
    assert result.success
    value = json.loads((hijacked / "work" / KEY / "values/property_manifest.json").read_text())
    assert value["upload_folder"] == VICTIM and value["manifest"]["listing"]["address"] == VICTIM
    [video] = value["videos"]
    assert video["fingerprint"] == {"size_bytes": tiny_clip.stat().st_size,
                                    "sha256": hashlib.sha256(tiny_clip.read_bytes()).hexdigest()}
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["upload_folder"].value == f"uploads/{VICTIM}"
    assert metadata["folder_from"].value == "run tag"
    assert [r.data["sha256"] for r in metadata["inputs"].value.records] == [video["fingerprint"]["sha256"]]


def test_a_tag_naming_another_property_or_no_folder_is_refused(hijacked: Path) -> None:
    assert failure(manifest_run(hijacked, KEY, {FOLDER_TAG: "someone-else"})) == (
        f"the run's {FOLDER_TAG} tag names uploads/someone-else, which maps to property key 'someone-else', "
        f"not to {KEY!r}")
    for name in os.listdir(hijacked / "uploads" / VICTIM):
        os.unlink(hijacked / "uploads" / VICTIM / name)
    os.rmdir(hijacked / "uploads" / VICTIM)
    assert failure(manifest_run(hijacked, KEY, {FOLDER_TAG: VICTIM})) == (
        f"the run's {FOLDER_TAG} tag names uploads/{VICTIM}, which does not exist")


def test_a_video_replaced_during_the_run_fails_it(tmp_path: Path, tiny_clip: Path, short_clip: Path) -> None:
    upload = write_upload(tmp_path, "oak-st", {"walk.mp4": tiny_clip},
                          options={"target_duration_s": 10, **SHOWCASE_ONLY})
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", ["oak-st"])
    outcome = {}
    run = threading.Thread(target=lambda: outcome.update(result=materialize(
        list(defs.assets), partition_key="oak-st", instance=instance, resources=resources(tmp_path),
        tags={FOLDER_TAG: "oak-st"}, raise_on_error=False)))
    run.start()
    probed = tmp_path / "work/oak-st/values/property_manifest.json"
    deadline = time.monotonic() + 300
    while not probed.exists():  # written once property_manifest has probed and fingerprinted the upload
        assert run.is_alive() and time.monotonic() < deadline
        time.sleep(0.005)
    replacement = upload / ".walk.mp4.part"
    replacement.write_bytes(short_clip.read_bytes())
    os.replace(replacement, upload / "walk.mp4")  # a re-upload finishing while the run goes on
    run.join(600)
    result = outcome["result"]
    assert not result.success
    probed_sha = hashlib.sha256(tiny_clip.read_bytes()).hexdigest()
    now_sha = hashlib.sha256(short_clip.read_bytes()).hexdigest()
    assert failure(result) == (
        f"uploads/oak-st/walk.mp4 changed during the run (probed {tiny_clip.stat().st_size} bytes, sha256 "
        f"{probed_sha[:12]}…, now {short_clip.stat().st_size} bytes, sha256 {now_sha[:12]}…); the upload sensor "
        "starts a new run for the new file")
    assert not (tmp_path / "results/oak-st/showcase.mp4").exists()
