"""video_analysis: video_frames, shot_boundaries, detected_objects, room_labels and quality_scores in one step.

The pass itself (``ops.analysis``) decodes each video once while the selected models consume its
frames; the results are built by ``ops.reports`` and ``ops.objects``. The five assets keep their own code versions,
metadata and values, and any subset can be rematerialised: the selected models then read the stored
frames instead of decoding again.
"""

import time
from typing import Any

import numpy as np
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    Config,
    IOManager,
    MaterializeResult,
    ResourceParam,
    build_input_context,
    multi_asset,
)

from real_estate_dag.assets.common import (
    analysis_out,
    bad_input,
    decoded_video,
    property_partitions,
    report_result,
)
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.k8s import GPU_OP_TAGS
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.analysis import (
    DecodeSettings,
    DetectSettings,
    Models,
    VideoPass,
    decode_pass,
    stored_pass,
    video_dir_name,
)
from real_estate_dag.ops.evidence import EvidenceSettings, Exemplars, photo_exemplars
from real_estate_dag.ops.objects import detections_array, objects_report
from real_estate_dag.ops.probe import MediaError
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.reports import frames_report, quality_report, rooms_report, shots_report
from real_estate_dag.ops.room_eval import open_photo
from real_estate_dag.ops.rooms import ROOM_TYPES, SequenceSettings
from real_estate_dag.ops.shots import CutSettings
from real_estate_dag.resources.store import Store, work_prefix
from real_estate_dag.retries import transient_retries

FRAMES = analysis_out(
    "video_frames",
    kinds={"python", "numpy"},
    code_version="frames-v3",
    description="Each video decoded once: every frame at 48x27 for shot detection, plus sampled "
    "frames (2 fps, short side 224 px) as JPEGs for room labels and quality, saved in the store under "
    "work/<property>/frames/; the picture's box inside any black bars burned into the source.",
)
SHOTS = analysis_out(
    "shot_boundaries",
    kinds={"pytorch", "parquet"},
    code_version="shots-v2",
    description="Shots per video from TransNetV2 transition probabilities, with hard cuts it scores "
    "low confirmed by a content-change score of the same 48x27 frames: [start, end] frames (inclusive) "
    "and seconds.",
)
DETECTED = analysis_out(
    "detected_objects",
    kinds={"opencv", "parquet"},
    code_version="objects-v1",
    description="COCO objects in the sampled frames (every detector_stride-th): per frame the class, "
    "confidence and box, from ultralytics YOLO when configured, else the packaged yolov4-tiny on OpenCV's "
    "DNN module; the evidence room_labels fuses (a bed means bedroom, an oven kitchen...).",
)
ROOMS = analysis_out(
    "room_labels",
    kinds={"pytorch", "parquet"},
    code_version="rooms-v4",
    description="Room type per segment (shots, split where the room changes inside a long take), "
    "with confidence and top-3: a Viterbi path over each video's per-frame room probabilities, with a "
    "switch penalty and a minimum dwell time. The probabilities are the room model's blended with its "
    "similarity to the property's photos and fused with the detected objects' evidence; the model's, the "
    "evidence, the fused probabilities and the path per video.",
)
QUALITY = analysis_out(
    "quality_scores",
    kinds={"pytorch", "parquet"},
    code_version="quality-v2",
    description="Per sampled frame: sharpness (Laplacian), exposure, camera stability (shake after "
    "smoothing the frame-to-frame motion) and a pyiqa no-reference score; combined 0..1, and "
    "averaged per shot.",
)


class AnalysisConfig(Config):
    sample_fps: float = 2.0
    sample_short_side: int = 224
    # wall-clock decode budget per video: this many seconds per second of footage, at least a minute
    decode_budget_factor: float = 5.0
    shot_threshold: float = 0.5
    # a hard cut TransNetV2 scores under shot_threshold: above this probability, and a colour change of
    # at least shot_content_min that is shot_content_ratio times the mean change of the frames around it
    shot_low_threshold: float = 0.01
    shot_content_ratio: float = 2.8
    shot_content_min: float = 20.0
    # the room sequence (ops.rooms): log-probability a change of room costs inside a take and at a cut,
    # and the shortest run of one room inside a take unless it is the whole shot
    switch_penalty: float = 6.0
    cut_switch_penalty: float = 1.0
    min_dwell_s: float = 3.0
    # the object detector sees every detector_stride-th sampled frame, keeping boxes of this confidence
    detector_stride: int = 2
    detector_confidence: float = 0.2
    # room evidence (ops.evidence): log-odds a confident object rule adds to its room, and the share of the
    # property's photos' vote in a frame that clearly matches one of them
    object_weight: float = 3.0
    exemplar_weight: float = 0.5


def stored_value(context: AssetExecutionContext, io_manager: IOManager, asset: str) -> Any:
    """The stored value of an asset this step does not rematerialise, loaded by the IO manager."""
    return io_manager.load_input(build_input_context(
        asset_key=AssetKey(asset), partition_key=context.partition_key, instance=context.instance,
        asset_partitions_def=context.assets_def.partitions_def, step_context=context.get_step_execution_context()))


def decode_videos(context: AssetExecutionContext, config: AnalysisConfig, store: Store, models: Models,
                  videos: list[dict]) -> tuple[list[VideoPass], list[dict]]:
    """Decode each uploaded video into the store, feeding the selected models; the passes and
    video_frames' entries (where each video's decoded streams are kept)."""
    settings = DecodeSettings(config.sample_fps, config.sample_short_side, config.decode_budget_factor)
    passes, entries = [], []
    for index, video in enumerate(videos):
        folder = video_dir_name(index, video["name"])
        prefix = work_prefix(context.partition_key, "frames", folder)
        try:
            result = decode_pass(models, settings, context.log.info, store.local_path(video["key"]), video["name"],
                                 video["facts"], store.work_dir(context.partition_key, "frames", folder))
        except MediaError as exc:
            raise bad_input(str(exc), file=video["key"]) from exc
        store.save_dir(prefix)
        passes.append(result)
        # downstream steps find the streams by store key: on S3 they may run on another machine
        entries.append({"name": video["name"], "key": video["key"],
                        "decoded": {**result.decoded.to_dict(), "directory": prefix}})
    return passes, entries


@multi_asset(
    name="video_analysis",
    outs={"video_frames": FRAMES, "shot_boundaries": SHOTS, "detected_objects": DETECTED, "room_labels": ROOMS,
          "quality_scores": QUALITY},
    internal_asset_deps={
        "video_frames": {AssetKey("property_manifest")},
        "shot_boundaries": {FRAMES.key},
        "detected_objects": {FRAMES.key, SHOTS.key},
        "room_labels": {AssetKey("property_manifest"), FRAMES.key, SHOTS.key, DETECTED.key},
        "quality_scores": {FRAMES.key, SHOTS.key},
    },
    ins={"property_manifest": AssetIn()},
    can_subset=True,
    partitions_def=property_partitions,
    pool="gpu",
    op_tags=GPU_OP_TAGS,
)
def video_analysis(
    context: AssetExecutionContext,
    config: AnalysisConfig,
    store: Store,
    models: ModelRegistry,
    io_manager: ResourceParam[IOManager],
    property_manifest: dict,
):
    with transient_retries(context):
        verify_inputs(store, property_manifest)
        yield from _analyse(context, config, store, models, io_manager, property_manifest)


def _analyse(context: AssetExecutionContext, config: AnalysisConfig, store: Store, registry: ModelRegistry,
             io_manager: IOManager, property_manifest: dict):
    selected = {key.path[-1] for key in context.selected_asset_keys}
    key = context.partition_key
    sequence = SequenceSettings(config.switch_penalty, config.cut_switch_penalty, config.min_dwell_s)
    evidence = EvidenceSettings(config.object_weight, config.exemplar_weight)
    device = registry.resolved_device()
    models = Models(
        device=device, batch_size=registry.batch_size,
        shots=registry.shot_model() if "shot_boundaries" in selected else None,
        load_rooms=registry.room_model if "room_labels" in selected else None,
        load_quality=registry.quality_model if "quality_scores" in selected else None,
        load_detector=registry.detector_model if "detected_objects" in selected else None,
        detect=DetectSettings(config.detector_stride, config.detector_confidence),
    )
    started = time.perf_counter()
    if "video_frames" in selected:
        passes, entries = decode_videos(context, config, store, models, property_manifest["videos"])
        verify_inputs(store, property_manifest)  # no video was replaced while it decoded
    else:
        entries = stored_value(context, io_manager, "video_frames")["videos"]
        passes = [stored_pass(models, context.log.info, entry["name"], decoded_video(store, entry))
                  for entry in entries]
    seconds = time.perf_counter() - started
    results: list[tuple[MaterializeResult, str]] = []
    if "video_frames" in selected:
        report = frames_report(passes, entries, seconds)
        results.append((report_result(store, key, "video_frames", report), report.summary))
    shots: list[list[list[int]]] = []
    if models.shots is not None:
        backend = models.shots.backend
        cuts = CutSettings(config.shot_threshold, config.shot_low_threshold, config.shot_content_ratio,
                           config.shot_content_min)
        report = shots_report(passes, cuts, backend.version_tag, models.shots.device, seconds,
                              store.work_dir(key, "shots"))
        store.save_dir(work_prefix(key, "shots"))
        results.append((report_result(store, key, "shot_boundaries", report, "shots",
                                      provenance(models.shots)), report.summary))
        shots = [v["shots"] for v in report.value["videos"]]
    elif models.want_samples:
        shots = [v["shots"] for v in stored_value(context, io_manager, "shot_boundaries")["videos"]]
    detections = None
    if models.detector is not None:
        report = objects_report(passes, shots, models.detector.backend.version_tag, models.detector.device,
                                models.detect, seconds)
        results.append((report_result(store, key, "detected_objects", report, "objects",
                                      provenance(models.detector)), report.summary))
        detections = [p.samples["detections"] for p in passes]
    elif models.rooms is not None:
        detections = [detections_array(v["detections"])
                      for v in stored_value(context, io_manager, "detected_objects")["videos"]]
    if models.rooms is not None:
        backend = models.rooms.backend
        exemplars = property_exemplars(store, property_manifest, models)
        report = rooms_report(passes, shots, backend.version_tag, device, sequence, seconds,
                              store.work_dir(key, "rooms"), work_prefix(key, "rooms"), evidence, detections, exemplars)
        store.save_dir(work_prefix(key, "rooms"))
        results.append((report_result(store, key, "room_labels", report, "rooms", provenance(models.rooms)),
                        report.summary))
    if models.quality is not None:
        report = quality_report(passes, shots, models.quality, device, seconds)
        results.append((report_result(store, key, "quality_scores", report, "quality",
                                      provenance(models.quality)), report.summary))
    context.log.info(f"video_analysis: {counted(len(passes), 'video')}, "
                     f"{', '.join(sorted(selected))} in one overlapped pass of {seconds:.1f} s")
    for result, summary in results:
        context.log.info(summary)
        yield result


def property_exemplars(store: Store, property_manifest: dict, models: Models) -> Exemplars | None:
    """The manifest's photos (entries with the store ``key`` of the file and an optional ``room``) as the
    room backbone embeds them, labelled by the manifest or else by the room model; None without photos."""
    photos = property_manifest.get("photos") or []
    if not photos or models.rooms is None:
        return None
    rooms = models.rooms
    both = run_batched([photo["key"] for photo in photos], models.batch_size, lambda keys: np.concatenate(
        rooms.classify([open_photo(store.local_path(k)) for k in keys]), axis=1))
    probs, embeddings = both[:, : len(ROOM_TYPES)], both[:, len(ROOM_TYPES) :]
    return photo_exemplars([photo.get("file") or photo["key"] for photo in photos], probs, embeddings,
                           [photo.get("room") for photo in photos])
