"""Render once, reuse: the showcase's renders timed one after another from one piece cache.

On the edit the pipeline chose (its stored values), with a cold cache: the full branded 16:9 render,
then the unbranded version, the 16:9 teaser, the 9:16 teaser (its clip bodies are new here: the
9:16 showcase is not rendered first) and a price change (a new title card). Each is timed on its own; the ratios are to
the full render, which is also compared with the render floor.
"""

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

from real_estate_dag.ops.manifest import manifest_from_dict
from real_estate_dag.ops.publication import Job, Publication
from real_estate_dag.ops.render import RenderClip, render_edit
from real_estate_dag.ops.render_cache import PieceCache


def _publication(values: Path, store: Path) -> Publication:
    manifest_value = json.loads((values / "property_manifest.json").read_text())
    edl = json.loads((values / "selected_clips.json").read_text())
    videos = {v["name"]: v for v in manifest_value["videos"]}
    clips = [RenderClip(store / videos[c["video"]]["key"], c["in_s"], c["duration_s"],
                        videos[c["video"]]["facts"]["has_audio"], 16 / 9,
                        source_id=videos[c["video"]]["fingerprint"]["sha256"]) for c in edl["clips"]]
    return Publication(manifest_from_dict(manifest_value["manifest"]), edl["clips"], lambda aspect: clips,
                       edl["title_s"], edl["closing_s"], edl["params"]["crossfade_s"],
                       {f: store / e["key"] for f, e in manifest_value.get("brand_files", {}).items()})


def _timed(job: Job, folder: Path, cache_root: Path, fade: float) -> dict:
    started = time.perf_counter()
    rendered = render_edit(job.edit, folder / job.name, job.size, crossfade_s=fade,
                           cache=PieceCache(cache_root / job.aspect.replace(":", "x")),
                           source_audio=job.variant == "branded")
    seconds = time.perf_counter() - started
    return {"file": job.name, "seconds": round(seconds, 3), "encoded": len(rendered.encoded),
                     "reused": len(rendered.reused), "duration_s": rendered.duration_s}


def measure_reuse(values: Path, store: Path, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cache_root = work / "cache"
    plan = _publication(values, store)
    plan.manifest = plan.manifest.model_copy(update={"options": plan.manifest.options.model_copy(
        update={"aspects": ("16:9", "9:16"), "unbranded": True, "teaser": True})})
    jobs = {job.name: job for job in plan.jobs(work / "cards")}
    rows = {}
    for name in ("showcase.mp4", "showcase_unbranded.mp4", "teaser.mp4", "teaser_9x16.mp4"):
        rows[name] = _timed(jobs[name], work, cache_root, plan.crossfade_s)
    listing = plan.manifest.listing
    cheaper = (listing.price or 500000) * 0.95
    plan.manifest = plan.manifest.model_copy(update={"listing": listing.model_copy(update={"price": cheaper})})
    price_job = next(j for j in plan.jobs(work / "cards_price") if j.name == "showcase.mp4")
    rows["price change"] = _timed(replace(price_job, name="showcase_price.mp4"), work, cache_root,
                                     plan.crossfade_s)
    full = rows["showcase.mp4"]["seconds"]
    return {
        "renders": list(rows.values()),
        "full_s": full,
        "ratios": {
            "unbranded / full render": round(rows["showcase_unbranded.mp4"]["seconds"] / full, 3),
            "teaser / full render": round(rows["teaser.mp4"]["seconds"] / full, 3),
            "teaser 9:16 / full render": round(rows["teaser_9x16.mp4"]["seconds"] / full, 3),
            "price change / full render": round(rows["price change"]["seconds"] / full, 3),
        },
    }


def synthetic_values(video: Path, folder: Path, clip_count: int = 5, clip_s: float = 4.0) -> tuple[Path, Path]:
    """Stored values for ``measure_reuse`` without running the pipeline: ``clip_count`` clips of
    ``clip_s`` seconds spread over ``video``, in a store laid out as the pipeline's."""
    import av
    from PIL import Image

    from real_estate_dag.ops.inputs import fingerprint
    from real_estate_dag.ops.manifest import parse_manifest

    store = folder / "store"
    upload = store / "uploads" / "bench-property"
    upload.mkdir(parents=True, exist_ok=True)
    target = upload / video.name
    if not target.exists():
        target.hardlink_to(video)
    Image.new("RGB", (400, 500), (190, 150, 120)).save(upload / "agent.jpg")
    Image.new("RGBA", (400, 160), (240, 240, 240, 255)).save(upload / "logo.png")
    manifest = parse_manifest(json.dumps({
        "property_id": "bench-property", "videos": [video.name],
        "listing": {"address": "1 Benchmark Way", "price": 500000, "bedrooms": 3, "bathrooms": 2},
        "brand": {"agent_name": "Bench Agent", "agent_phone": "+1 555 0100", "agent_portrait": "agent.jpg",
                  "brokerage": "Bench Realty", "logo": "logo.png", "listing_url": "https://bench.example/1"},
        "options": {"target_duration_s": 20, "aspects": ["16:9"]}}).encode())
    with av.open(str(video)) as container:
        duration = container.duration / av.time_base
    step = (duration - clip_s) / clip_count
    clips = [{"order": i, "video": video.name, "room": "living_room", "score": 0.5 + 0.01 * i,
              "in_s": round(i * step + 0.5, 3), "duration_s": clip_s,
              "showcase_in_s": 2.5 + i * (clip_s - 0.5), "showcase_out_s": 2.5 + i * (clip_s - 0.5) + clip_s}
             for i in range(clip_count)]
    values = folder / "values"
    values.mkdir(exist_ok=True)
    brand_files = {f: {"key": f"uploads/bench-property/{n}"} for f, n in manifest.brand.files().items()}
    (values / "property_manifest.json").write_text(json.dumps({
        "manifest": manifest.to_dict(), "brand_files": brand_files,
        "videos": [{"name": video.name, "key": f"uploads/bench-property/{video.name}",
                    "facts": {"has_audio": True}, "fingerprint": fingerprint(target)}]}))
    (values / "selected_clips.json").write_text(json.dumps({
        "clips": clips, "title_s": 3.0, "closing_s": 3.0, "params": {"crossfade_s": 0.5}}))
    return values, store


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import render_floor

    video, work = Path(sys.argv[1]), Path(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    values, store = synthetic_values(video, work)
    floor_s, _ = render_floor(store / "uploads" / "bench-property" / video.name, values, work / "floor.mp4")
    report = measure_reuse(values, store, work / "reuse")
    report["render_floor_s"] = round(floor_s, 3)
    report["ratios"]["full render / render floor"] = round(report["full_s"] / floor_s, 3)
    print(json.dumps(report, indent=2))
