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
    return Publication(manifest_from_dict(manifest_value["manifest"]), edl["clips"], clips, edl["title_s"],
                       edl["closing_s"], edl["params"]["crossfade_s"],
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
