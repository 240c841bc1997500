"""agent_intro: the agent cut out of the brand portrait, and (with a D-ID key) a talking-head clip of them."""

from pathlib import Path

import numpy as np
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from PIL import Image

from real_estate_dag.assets.common import GROUP, OWNERS, image_markdown, property_partitions
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.gpu_resources.detector import COCO_CLASSES
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.did import DidClient, DidError
from real_estate_dag.ops.intro import PortraitError, cut_out, person_boxes
from real_estate_dag.resources.safety import INTRO, IntroSettings
from real_estate_dag.resources.store import Store, work_prefix
from real_estate_dag.retries import transient_retries

FOLDER = "intro"
PERSON_CONFIDENCE = 0.3


def intro_script(brand: dict, address: str) -> str:
    """What the talking head says: who the agent is and which home this is."""
    who = f"Hi, I'm {brand['agent_name']}" + (f" with {brand['brokerage']}" if brand.get("brokerage") else "")
    return f"{who}. Let me show you {address or 'this home'}."


@asset(
    resource_defs={"intro_settings": INTRO.from_env()},
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"opencv", "python"},
    code_version="intro-v2",
    description="The agent intro from brand.agent_portrait: the person located (the detector capability's "
    "largest person box, else the largest face NudeNet finds widened to head and shoulders), the background "
    "removed (segmentation: BiRefNet from local weights, else GrabCut), saved as a transparent PNG that the "
    "branded showcase's intro card shows; with DID_API_KEY, a D-ID talking-head clip of the portrait, placed "
    "first. Nothing without a portrait.",
)
def agent_intro(context: AssetExecutionContext, store: Store, models: ModelRegistry, intro_settings: IntroSettings,
                property_manifest: dict) -> MaterializeResult:
    with transient_retries(context):
        verify_inputs(store, property_manifest)
        return _intro(context, store, models, intro_settings, property_manifest)


def _intro(context: AssetExecutionContext, store: Store, models: ModelRegistry, settings: IntroSettings,
           property_manifest: dict) -> MaterializeResult:
    key = context.partition_key
    portrait_file = (property_manifest.get("brand_files") or {}).get("agent_portrait")
    if portrait_file is None:
        return MaterializeResult(value={"cutout": None, "clip": None, "reason": "no brand.agent_portrait"},
                                 metadata={"intro": "none: the manifest gives no brand.agent_portrait"})
    portrait_path = store.local_path(portrait_file["key"])
    folder = store.work_dir(key, FOLDER)
    with Image.open(portrait_path) as opened:
        portrait = opened.convert("RGB")
    faces, detector, segmenter = models.moderation_model(), models.detector_model(), models.segmentation_model()
    people = person_boxes(detector.detect([portrait], PERSON_CONFIDENCE), COCO_CLASSES.index("person"),
                          portrait.width, portrait.height)
    try:
        cutout = cut_out(portrait, faces.detect(np.asarray(portrait)), segmenter.mask, people)
    except PortraitError as exc:
        context.log.warning(f"{portrait_file['key']}: {exc}; the showcase has no intro")
        return MaterializeResult(value={"cutout": None, "clip": None, "reason": f"{portrait_file['key']}: {exc}"},
                                 metadata={"intro": MetadataValue.text(f"none: {portrait_file['key']}: {exc}")})
    cutout.image.save(folder / "cutout.png")
    clip, talk = None, None
    if settings.did_api_key:
        brand = property_manifest["manifest"]["brand"]
        address = property_manifest["manifest"]["listing"]["address"]
        try:
            talk = DidClient(settings.did_api_key, settings.did_url).talking_head(
                portrait_path, Path(folder) / "talk.mp4", text=intro_script(brand, address),
                deadline_s=settings.did_deadline_s)
            clip = f"{work_prefix(key, FOLDER)}/talk.mp4"
        except DidError as exc:
            context.log.warning(f"D-ID: {exc}; the intro card is used instead")
    store.save_dir(work_prefix(key, FOLDER))
    source = provenance(segmenter)
    return MaterializeResult(
        value={"cutout": f"{work_prefix(key, FOLDER)}/cutout.png", "clip": clip, "intro_s": settings.intro_s,
               "talk_id": talk.id if talk else None,
               "person": list(cutout.person), "face": list(cutout.face) if cutout.face else None,
               "located_by": cutout.located_by, "segmentation": source},
        metadata={
            "cutout": image_markdown(cutout.image.convert("RGBA"), "the agent cut out of the portrait", fmt="PNG"),
            "located_by": cutout.located_by,
            "person_box": str(list(cutout.person)),
            "segmentation_backend": source["backend"],
            "detector_backend": detector.backend.version_tag,
            "talking_head": MetadataValue.text(f"D-ID talk {talk.id} ({talk.polls} polls)" if talk
                                               else "none (DID_API_KEY unset or D-ID failed)"),
        },
    )
