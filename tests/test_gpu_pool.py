"""Two properties launched together on the production (Postgres) instance, whose "gpu" pool has one
slot: their GPU steps never run at the same time, while their CPU steps run alongside."""

import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

from dagster import DagsterEventType, DagsterRunStatus
from media_helpers import write_upload
from postgres_instance import REPO, open_instance, production_home

GPU_STEPS = {"video_analysis", "photo_analysis"}  # the overlapped video pass; the photo models
PROPERTIES = ("house-a", "house-b")


def step_intervals(instance, run_id: str) -> dict[str, tuple[float, float]]:
    events = instance.all_logs(run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS})
    starts = {e.step_key: e.timestamp for e in events if e.dagster_event.event_type == DagsterEventType.STEP_START}
    ends = {e.step_key: e.timestamp for e in events if e.dagster_event.event_type == DagsterEventType.STEP_SUCCESS}
    assert starts.keys() == ends.keys()
    return {key: (starts[key], ends[key]) for key in starts}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_gpu_steps_of_two_runs_never_overlap_while_cpu_steps_do(tmp_path: Path, tiny_clip: Path) -> None:
    store = tmp_path / "store"
    for key in PROPERTIES:
        write_upload(store, key, {"walk.mp4": tiny_clip}, options={"target_duration_s": 10})
    dagster = str(Path(sys.executable).parent / "dagster")
    with production_home(tmp_path / "home") as env, open_instance(tmp_path / "home") as instance:
        instance.add_dynamic_partitions("property", list(PROPERTIES))
        # As `dagster instance concurrency set gpu 1` does on a deployment: a pool first created by the
        # default_limit of two runs claiming at the same moment could briefly hold two slots.
        instance.event_log_storage.set_concurrency_slots("gpu", 1)
        process_env = {**os.environ, **env, "REDAG_STORE_ROOT": str(store), "REDAG_DEVICE": "cpu"}
        logs = {key: (tmp_path / f"{key}.log").open("w") for key in PROPERTIES}
        processes = {
            key: subprocess.Popen(
                [dagster, "job", "execute", "-m", "real_estate_dag.definitions", "-j", "showcase_job",
                 "--tags", json.dumps({"dagster/partition": key})],
                cwd=REPO, env=process_env, stdout=logs[key], stderr=subprocess.STDOUT)
            for key in PROPERTIES
        }
        for key, process in processes.items():
            assert process.wait(timeout=560) == 0, (tmp_path / f"{key}.log").read_text()[-4000:]
            logs[key].close()

        runs = {run.tags["dagster/partition"]: run for run in instance.get_runs()}
        assert set(runs) == set(PROPERTIES)
        assert all(run.status == DagsterRunStatus.SUCCESS for run in runs.values())
        steps = {key: step_intervals(instance, run.run_id) for key, run in runs.items()}
        assert all(len(s) == 9 for s in steps.values())
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 1

    gpu = [(key, step, span) for key, s in steps.items() for step, span in s.items() if step in GPU_STEPS]
    assert len(gpu) == 4
    for (key_a, step_a, span_a), (key_b, step_b, span_b) in combinations(gpu, 2):
        assert not overlap(span_a, span_b), f"{key_a}/{step_a} {span_a} overlaps {key_b}/{step_b} {span_b}"

    # CPU steps did not wait for the other run's GPU work: one run's CPU steps ran while the other run
    # was in a step.
    a, b = (steps[key] for key in PROPERTIES)
    cpu_overlaps = [(x, y) for this, other in ((a, b), (b, a)) for x, span in this.items() if x not in GPU_STEPS
                    for y, other_span in other.items() if overlap(span, other_span)]
    assert cpu_overlaps, steps
