"""Retention on a real temporary store: what goes, what stays, and what it reports."""

import json
import os
import time
from pathlib import Path

import pytest
from dagster import DefaultScheduleStatus

from real_estate_dag.definitions import defs
from real_estate_dag.ops.retention import RetentionPolicy, plan_cleanup
from real_estate_dag.resources.store import LocalStore, StoredObject
from real_estate_dag.retention import RetentionSettings, retention_job

DAY, HOUR = 86400, 3600


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    now = time.time()
    files = {
        "uploads/old-prop/walk.mp4": (5000, 90 * DAY),
        "uploads/old-prop/.tmp-upload-part": (10, 30 * DAY),  # an uploader's own temporary: never ours
        "work/old-prop/frames/00-walk/shot_stream.u8": (4000, 10 * DAY),
        "work/old-prop/values/property_manifest.json": (300, 9 * DAY),
        "work/busy-prop/frames/00-walk/shot_stream.u8": (7000, 20 * DAY),
        "work/busy-prop/values/selected_clips.json": (200, 1 * HOUR),  # touched recently: keep the area
        "work/busy-prop/render/.tmp-41-render_16x9.mp4": (900, 2 * HOUR),  # left by a killed render
        "work/busy-prop/render/.tmp-42-render_16x9.mp4": (800, 10 * 60),  # a render still running
        "results/old-prop/showcase.mp4": (6000, 60 * DAY),
        "results/old-prop/.tmp-7-showcase.mp4": (1500, 3 * HOUR),
        # result sets: current and previous are old but named by current.json, so they always stay
        "results/set-prop/current.json": (0, 40 * DAY),
        "results/set-prop/runs/run-b/showcase.mp4": (3000, 40 * DAY),
        "results/set-prop/runs/run-b/clips.parquet": (100, 40 * DAY),
        "results/set-prop/runs/run-a/showcase.mp4": (2500, 50 * DAY),
        "results/set-prop/runs/run-k/showcase.mp4": (2000, 3 * HOUR),  # a killed run's set, never current
        "results/set-prop/runs/run-k/clips.parquet": (50, 3 * HOUR),
        "results/set-prop/runs/run-n/showcase.mp4": (1000, 10 * 60),  # a set being published now
    }
    for key, (size, age) in files.items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        os.utime(path, (now - age, now - age))
    current = tmp_path / "results/set-prop/current.json"
    current.write_text(json.dumps({"run_id": "run-b", "set_id": "run-b", "previous_set_id": "run-a", "files": {}}))
    os.utime(current, (now - 40 * DAY, now - 40 * DAY))
    return LocalStore(root=str(tmp_path))


SETS_KEPT = {"results/set-prop/current.json", "results/set-prop/runs/run-b/showcase.mp4",
             "results/set-prop/runs/run-b/clips.parquet", "results/set-prop/runs/run-a/showcase.mp4",
             "results/set-prop/runs/run-n/showcase.mp4"}


def run(store: LocalStore, dry_run: bool = False, **settings: int):
    result = retention_job.execute_in_process(
        resources={"store": store, "retention": RetentionSettings(**settings)},
        run_config={"ops": {"remove_expired_files": {"config": {"dry_run": dry_run}}}})
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in output.event_specific_data.metadata.items()}


def keys(store: LocalStore) -> set[str]:
    return {o.key for area in ("uploads", "work", "results") for o in store.list_objects(area)}


def test_stale_work_areas_and_old_temporaries_go_uploads_and_results_stay(store: LocalStore) -> None:
    meta = run(store, work_days=7)
    assert keys(store) == {
        "uploads/old-prop/walk.mp4",
        "uploads/old-prop/.tmp-upload-part",
        "work/busy-prop/frames/00-walk/shot_stream.u8",
        "work/busy-prop/values/selected_clips.json",
        "work/busy-prop/render/.tmp-42-render_16x9.mp4",
        "results/old-prop/showcase.mp4",
        *SETS_KEPT,
    }
    assert meta["files_removed"] == 6 and meta["bytes_freed"] == 4000 + 300 + 900 + 1500 + 2050
    assert meta["properties"] == 3
    assert {"property": "set-prop", "reason": "unfinished sets", "files": 2, "bytes": 2050} in rows(meta)
    assert {"property": "old-prop", "reason": "intermediates", "files": 2, "bytes": 4300} in rows(meta)
    assert {"property": "busy-prop", "reason": "temporary", "files": 1, "bytes": 900} in rows(meta)
    assert {"property": "old-prop", "reason": "temporary", "files": 1, "bytes": 1500} in rows(meta)
    assert not (Path(store.root) / "work/old-prop").exists()  # emptied folders go too
    assert (Path(store.root) / "work").is_dir()


def test_results_go_only_when_configured_and_dry_run_deletes_nothing(store: LocalStore) -> None:
    before = keys(store)
    meta = run(store, work_days=7, results_days=30, dry_run=True)
    assert keys(store) == before
    assert meta["dry_run"] and {"property": "old-prop", "reason": "results", "files": 1, "bytes": 6000} in rows(meta)
    run(store, work_days=7, results_days=30)
    assert {k for k in keys(store) if k.startswith("results/")} == SETS_KEPT  # the current and previous sets stay
    assert {k for k in keys(store) if k.startswith("uploads/")} == {"uploads/old-prop/walk.mp4",
                                                                    "uploads/old-prop/.tmp-upload-part"}


def test_objects_of_unknown_age_are_kept() -> None:
    objects = [StoredObject("work/p/a.npy", 10, "etag", None), StoredObject("work/p/.tmp-1-b", 5, "etag", None),
               StoredObject("work/q/a.npy", 10, "etag", 0.0)]
    removals = plan_cleanup(objects, now=100 * DAY, policy=RetentionPolicy(work_days=1))
    assert [r.key for r in removals] == ["work/q/a.npy"]


def test_the_cleanup_runs_daily_by_default() -> None:
    schedule = defs.get_schedule_def("retention_schedule")
    assert schedule.job_name == "retention_job"
    assert schedule.cron_schedule == "30 3 * * *"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING


def test_a_stale_area_with_a_live_temporary_is_in_use_and_kept() -> None:
    now = 100 * DAY
    objects = [StoredObject("work/p/values/a.json", 10, "v", now - 30 * DAY),
               StoredObject("work/p/render/.tmp-9-render.mp4", 5, "v", now - 60)]
    assert plan_cleanup(objects, now=now, policy=RetentionPolicy(work_days=7)) == []
    objects[1] = StoredObject("work/p/render/.tmp-9-render.mp4", 5, "v", now - 2 * HOUR)
    assert {(r.key, r.reason) for r in plan_cleanup(objects, now=now, policy=RetentionPolicy(work_days=7))} == {
        ("work/p/values/a.json", "intermediates"), ("work/p/render/.tmp-9-render.mp4", "temporary")}


def rows(metadata: dict) -> list[dict]:
    return [record.data for record in metadata["freed"].records]
