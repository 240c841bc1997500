"""One benchmark input through the whole asset graph, in its own process so that its peak RSS is its own.

Run by ``bench/run.py`` as ``python bench/stages.py VIDEO STORE_ROOT TARGET_S``; prints one JSON line:
each step's [start, end] seconds (from Dagster's step events), the end-to-end wall time and the
process's peak RSS (ffmpeg renders run as child processes and are not included).
"""

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import DagsterEventType, DagsterInstance, materialize
from PIL import Image

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import LocalStore

PARTITION = "bench-property"


def write_upload(root: Path, video: Path, target_s: float) -> None:
    folder = root / "uploads" / PARTITION
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "walkthrough.mp4"
    if not link.exists():
        link.hardlink_to(video)
    Image.new("RGB", (400, 500), (190, 150, 120)).save(folder / "agent.jpg")
    Image.new("RGBA", (400, 160), (240, 240, 240, 255)).save(folder / "logo.png")
    manifest = {"property_id": PARTITION, "videos": ["walkthrough.mp4"],
                "listing": {"address": "1 Benchmark Way", "price": 500000, "bedrooms": 3, "bathrooms": 2},
                "brand": {"agent_name": "Bench Agent", "agent_phone": "+1 555 0100", "agent_email": "a@bench.example",
                          "agent_portrait": "agent.jpg", "brokerage": "Bench Realty", "logo": "logo.png",
                          "listing_url": "https://bench.example/1"},
                "options": {"target_duration_s": target_s, "aspects": ["16:9"]}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def step_spans(instance: DagsterInstance, run_id: str, since: float) -> dict[str, list[float]]:
    """[start, end] of each step in seconds after ``since`` (a time.time() value)."""
    spans: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            spans[event.step_key] = [round(entry.timestamp - since, 3)]
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            spans[event.step_key].append(round(entry.timestamp - since, 3))
    return spans


def materialize_property(root: Path, partition: str) -> dict:
    """Every asset of the uploaded property ``partition`` under the store ``root``: success, wall time,
    step spans, peak memory and where the asset values are."""
    store = LocalStore(root=str(root))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", [partition])
    since, started = time.time(), time.perf_counter()
    result = materialize(
        list(defs.assets), partition_key=partition, instance=instance,
        resources={"store": store, "models": ModelRegistry(), "io_manager": StoreJsonIOManager(store=store),
                   "limits": UploadLimits()},
    )
    return {
        "success": result.success,
        "end_to_end_s": round(time.perf_counter() - started, 3),
        "steps": step_spans(instance, result.run_id, since),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "values_dir": str(root / "work" / partition / "values"),
    }


def main(video: Path, root: Path, target_s: float) -> dict:
    write_upload(root, video, target_s)
    return materialize_property(root, PARTITION)


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))))
