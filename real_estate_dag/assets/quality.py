"""quality_scores: sharpness, exposure, camera stability and model IQA per sampled frame and shot."""

import time

import numpy as np
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    decoded_video,
    image_markdown,
    markdown_table,
    property_partitions,
    provenance,
    publish_table,
)
from real_estate_dag.assets.versions import code_version
from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.k8s import GPU_OP_TAGS
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops import quality
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import Progress, counted
from real_estate_dag.ops.visuals import ScoreSeries, score_plot
from real_estate_dag.resources.store import Store


def score_series(videos: list[dict], frame_rows: list[dict]) -> list[ScoreSeries]:
    """Per video: the time and combined score of each sampled frame, for plotting."""
    series = []
    for entry in videos:
        decoded = DecodedVideo.from_dict(entry["decoded"])
        rows = [r for r in frame_rows if r["video"] == entry["name"]]
        series.append(ScoreSeries(entry["name"], decoded.frame_count / decoded.fps,
                                  np.array([r["time_s"] for r in rows]), np.array([r["score"] for r in rows])))
    return series


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch", "parquet"},
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    code_version=code_version("quality-v1", "quality"),
    retry_policy=STORAGE_RETRY,
    description="Per sampled frame: sharpness (Laplacian), exposure, camera stability (shake after "
    "smoothing the frame-to-frame motion) and a pyiqa no-reference score; combined 0..1, and "
    "averaged per shot.",
)
def quality_scores(
    context: AssetExecutionContext,
    store: Store,
    models: ModelRegistry,
    video_frames: dict,
    shot_boundaries: dict,
) -> MaterializeResult:
    model = models.quality_model()
    frames_out = []
    shots_out = []
    run_started = time.perf_counter()
    for entry, shots in zip(video_frames["videos"], shot_boundaries["videos"], strict=True):
        decoded = decoded_video(store, entry)
        started = time.perf_counter()
        motion = quality.frame_motion(decoded.shot_stream())
        centres = np.array([s.index for s in decoded.sampled])
        stability = quality.stability(motion, decoded.fps, centres, [tuple(s) for s in shots["shots"]])

        classical: list[tuple[float, float]] = []
        progress = Progress(context.log.info, f"{entry['name']}: quality", "frames")

        def score(batch: list, decoded: DecodedVideo = decoded, classical: list = classical,
                  progress: Progress = progress) -> np.ndarray:
            images = [decoded.sampled_image(s) for s in batch]
            for image in images:
                luma = quality.grey(np.asarray(image))
                classical.append((quality.sharpness(luma), quality.exposure(luma)))
            scores = model.score(images)
            progress(len(classical), len(decoded.sampled))
            return scores

        raw = run_batched(list(decoded.sampled), models.batch_size, score)
        iqa = model.normalise(raw)
        classical = classical[-len(raw):]
        for i, sample in enumerate(decoded.sampled):
            sharp, expo = classical[i]
            frames_out.append({
                "video": entry["name"], "sample": i, "frame": sample.index, "time_s": sample.time_s,
                "sharpness": round(sharp, 4), "exposure": round(expo, 4),
                "stability": round(float(stability[i]), 4), "iqa_raw": round(float(raw[i]), 4),
                "iqa": round(float(iqa[i]), 4),
                "score": round(quality.combine(float(iqa[i]), sharp, expo, float(stability[i])), 4),
            })
        video_rows = frames_out[-len(raw):]
        for shot_index, (start, end) in enumerate(shots["shots"]):
            inside = [r for r in video_rows if start <= r["frame"] <= end]
            if inside:
                shots_out.append({
                    "video": entry["name"], "shot": shot_index,
                    "score": round(float(np.mean([r["score"] for r in inside])), 4),
                    "stability": round(float(np.mean([r["stability"] for r in inside])), 4),
                    "samples": len(inside),
                })
        context.log.info(f"{entry['name']}: scored {len(raw)} frames "
                         f"({len(raw) / (time.perf_counter() - started):.1f} frames/s)")
    url = publish_table(store, context.partition_key, "quality", frames_out)
    backend = model.backend
    scores = [r["score"] for r in frames_out]
    seconds = time.perf_counter() - run_started
    videos = video_frames["videos"]
    context.log.info(f"quality_scores: {counted(len(videos), 'video')}, {len(frames_out)} sampled frames "
                     f"scored in {seconds:.1f} s ({len(frames_out) / seconds:.1f} frames/s), "
                     f"mean score {np.mean(scores):.3f}, backend {backend.version_tag} on {model.device}")
    return MaterializeResult(
        value={"backend": backend.version_tag, "frames": frames_out, "shots": shots_out},
        metadata={
            "frames_scored": len(frames_out),
            "mean_score": round(float(np.mean(scores)), 4),
            **provenance(backend, model.device),
            "table_url": MetadataValue.url(url),
            "score_plot": image_markdown(score_plot(score_series(videos, frames_out)), "quality scores", "PNG",
                                         caption="Combined quality score (0..1) of each sampled frame over time; "
                                         "the chosen clips are marked on selected_clips."),
            "shots": markdown_table(shots_out),
        },
    )
