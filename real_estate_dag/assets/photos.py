"""photo_analysis: every uploaded photo labelled, scored, grouped with its duplicates and corrected."""

import time
from typing import Any

import numpy as np
from dagster import AssetExecutionContext, MaterializeResult, asset
from PIL import Image

from real_estate_dag.assets.common import GROUP, OWNERS, bad_input, image_markdown, property_partitions, table
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.gpu_resources.backends import SuperResModel
from real_estate_dag.gpu_resources.detector import COCO_CLASSES
from real_estate_dag.gpu_resources.k8s import GPU_OP_TAGS
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.photo_analysis import PhotoInput, analyse_photos, by_room
from real_estate_dag.ops.photos import PhotoError
from real_estate_dag.ops.visuals import contact_sheet, fit_width
from real_estate_dag.resources.store import Store, work_prefix
from real_estate_dag.retries import transient_retries

TABLE_COLUMNS = ("file", "room", "confidence", "quality", "duplicate_group", "hero")
PHOTO_COLUMNS = (*TABLE_COLUMNS, "used")  # photos.parquet


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch", "python"},
    code_version="photos-v1",
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    description="Per uploaded photo: room label with confidence and top-3 (the room model of the video "
    "frames, or the manifest's label), sharpness, exposure, noise and a pyiqa score combined 0..1, an "
    "embedding, detected objects (the registry's detector) and the focus point they give, its duplicate "
    "group (same file or a near-copy) and the hero choice; each photo corrected (white balance, exposure, "
    "contrast, mild sharpening) and kept at render size under work/<property>/photos/.",
)
def photo_analysis(context: AssetExecutionContext, store: Store, models: ModelRegistry,
                   property_manifest: dict) -> MaterializeResult:
    with transient_retries(context):
        verify_inputs(store, property_manifest)
        return _analyse(context, store, models, property_manifest)


def _analyse(context: AssetExecutionContext, store: Store, registry: ModelRegistry,
             property_manifest: dict) -> MaterializeResult:
    key = context.partition_key
    entries = property_manifest.get("photos", [])
    if not entries:
        return MaterializeResult(value={"photos": [], "hero": None, "embeddings": None},
                                 metadata={"photo_count": 0})
    photos = [PhotoInput(e["name"], store.local_path(e["key"]), e["fingerprint"]["sha256"], e.get("room"),
                         e.get("caption", "")) for e in entries]
    rooms, scorer, superres = registry.room_model(), registry.quality_model(), registry.superres_model()
    detector = registry.detector_model()
    upscaler = superres.upscale if isinstance(superres, SuperResModel) else None
    prefix = work_prefix(key, "photos")
    folder = store.work_dir(key, "photos")
    started = time.perf_counter()
    try:
        rows, embeddings, prepared = analyse_photos(photos, folder, rooms, scorer, upscaler, detector, COCO_CLASSES)
    except PhotoError as exc:  # changed since property_manifest read it, which verify_inputs reports first
        raise bad_input(str(exc), check="media") from exc
    np.save(folder / "embeddings.npy", embeddings)
    for i, row in enumerate(rows):
        row["key"] = entries[i]["key"]
        row["enhanced_key"] = f"{prefix}/{i:03d}.jpg"
    store.save_dir(prefix)
    seconds = time.perf_counter() - started
    verify_inputs(store, property_manifest)  # no photo was replaced while it was read
    hero = next((r for r in rows if r["hero"]), None)
    groups = len({r["duplicate_group"] for r in rows})
    context.log.info(f"photo_analysis: {len(rows)} photos in {seconds:.1f} s ({groups} distinct), "
                     f"hero {hero['file'] if hero else 'none'}")
    metadata: dict[str, Any] = {
        "photo_count": len(rows),
        "distinct_photos": groups,
        "seconds": round(seconds, 2),
        "rooms": ", ".join(f"{room} {n}" for room, n in _room_counts(rows)),
        "photos": table([{**{c: r[c] for c in (*TABLE_COLUMNS, "sharpness", "exposure", "noise", "iqa", "upscaled")},
                          "objects": ", ".join(o["object"] for o in r["objects"]), "focus_from": r["focus_from"]}
                         for r in rows]),
        "contact_sheet": image_markdown(contact_sheet(
            [(prepared[i].before, f"{rows[i]['room']} {rows[i]['confidence']:.2f} · q {rows[i]['quality']:.2f}"
              + (" · hero" if rows[i]["hero"] else "")) for i in by_room(rows)], columns=6, thumb_width=120),
            "photos by room", caption="Each photo under its room label (confidence) and quality score, in "
            "showcase room order, best first."),
        "before_after": image_markdown(contact_sheet(
            [pair for i in by_room(rows)[:12] for pair in ((prepared[i].before, f"before {i}"),
                                                          (prepared[i].after, f"after {i}"))],
            columns=6, thumb_width=120), "before and after", caption="Originals and their corrections."),
        **{f"rooms_{k}": v for k, v in provenance(rooms).items()},
        **{f"quality_{k}": v for k, v in provenance(scorer).items()},
        **{f"detector_{k}": v for k, v in provenance(detector).items()},
        "superres_backend": superres.backend.version_tag,
    }
    if hero is not None:
        with Image.open(store.local_path(hero["enhanced_key"])) as image:
            metadata["hero"] = image_markdown(fit_width(image.convert("RGB"), 480), "hero photo",
                                              caption=f"{hero['file']}: {hero['hero_reason']}")
    return MaterializeResult(
        value={"photos": rows, "hero": hero["file"] if hero else None,
               "embeddings": f"{prefix}/embeddings.npy"},
        metadata=metadata,
    )


def _room_counts(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for i in by_room(rows):
        counts[rows[i]["room"]] = counts.get(rows[i]["room"], 0) + 1
    return list(counts.items())


def photos_table(photo_value: dict, used: set[str]) -> list[dict[str, Any]]:
    """photos.parquet: a row per photo, ``used`` naming those in the edit."""
    return [{**{c: r[c] for c in TABLE_COLUMNS}, "used": r["file"] in used} for r in photo_value["photos"]]

