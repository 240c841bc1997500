"""moderation: NudeNet on every sampled frame; a blocking check keeps explicit content unpublished."""

import time

import numpy as np
from dagster import Any as DagsterAny
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from real_estate_dag.assets.common import GROUP, OWNERS, decoded_video, property_partitions, table
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.moderation import FACES, block_message, blocking, scan
from real_estate_dag.ops.photos import load_photo
from real_estate_dag.resources.safety import SAFETY, SafetySettings
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries

CHECK = "no_blocked_content"


def moderation_asset(safety: SafetySettings) -> AssetsDefinition:
    """The moderation asset with these settings (``moderation`` below has the environment's)."""

    @asset(
        name="moderation",
        resource_defs={"safety": safety},
        partitions_def=property_partitions,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"onnx", "python"},
        code_version="moderation-v1",
        dagster_type=DagsterAny,
        check_specs=[AssetCheckSpec(CHECK, asset="moderation", blocking=True,
                                    description="No sampled frame or photo shows a blocked class (settings: "
                                    "REDAG_MODERATION_BLOCKED, REDAG_MODERATION_SCORE_PCT); a failure stops the "
                                    "run before anything is published and names each file and time.")],
        description="NudeNet (320n, onnxruntime) on every sampled frame (2 fps) and photo: each detection with its "
        "class, score and box, the faces found (which privacy blurs), and the findings that block publication.",
    )
    def moderation(context: AssetExecutionContext, store: Store, models: ModelRegistry, safety: SafetySettings,
                   property_manifest: dict, video_frames: dict) -> MaterializeResult:
        with transient_retries(context):
            return _moderate(context, store, models, safety, property_manifest, video_frames)

    return moderation


PHOTO_SIDE = 1280  # photos are moderated at up to this long side (NudeNet looks at 320 px)


def _images(store: Store, property_manifest: dict, video_frames: dict):
    for entry in video_frames["videos"]:
        decoded = decoded_video(store, entry)
        for sample in decoded.sampled:
            yield entry["name"], sample.time_s, np.asarray(decoded.sampled_image(sample))
    for photo in property_manifest.get("photos") or ():
        yield photo["name"], None, np.asarray(load_photo(store.local_path(photo["key"]), photo["name"], PHOTO_SIDE))


def _moderate(context: AssetExecutionContext, store: Store, models: ModelRegistry, safety: SafetySettings,
              property_manifest: dict, video_frames: dict) -> MaterializeResult:
    model = models.moderation_model()
    block_score = safety.block_score_pct / 100
    floor = min(block_score, safety.blur_score_pct / 100)
    started = time.perf_counter()
    scanned = 0

    def counted(images):
        nonlocal scanned
        for item in images:
            scanned += 1
            yield item

    findings = scan(counted(_images(store, property_manifest, video_frames)), model.detect, floor)
    seconds = time.perf_counter() - started
    blocked = blocking(findings, safety.blocked(), block_score)
    faces = [f for f in findings if f.label in FACES]
    message = block_message(blocked) if blocked else "none"
    if blocked:
        context.log.error(message)
    footage_s = sum(v["facts"]["duration_s"] for v in property_manifest["videos"])
    columns = ("file", "time_s", "label", "score", "box")
    return MaterializeResult(
        value={"findings": [f.to_dict() for f in findings], "blocked": [f.to_dict() for f in blocked],
               "faces": len(faces), "scanned": scanned, "provenance": provenance(model),
               "settings": {"blocked_classes": list(safety.blocked()), "block_score": block_score,
                            "blur_classes": list(safety.blurred()), "blur_score": safety.blur_score_pct / 100}},
        metadata={
            "scanned": scanned,
            "findings": table([{**f.to_dict(), "box": str(list(f.box))} for f in findings], columns=columns),
            "faces": len(faces),
            "blocked": len(blocked),
            "seconds_per_footage_minute": round(60 * seconds / max(footage_s, 1e-9), 2),
            "backend": provenance(model)["backend"],
        },
        check_results=[AssetCheckResult(
            check_name=CHECK, passed=not blocked, description=message,
            metadata={"blocked": MetadataValue.text(message), "blocked_classes": ", ".join(safety.blocked())})],
    )


moderation = moderation_asset(SAFETY.from_env())
