"""shot_boundaries: TransNetV2 shots per video, in frames and seconds."""

import time

import numpy as np
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

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
from real_estate_dag.ops.progress import Progress, counted
from real_estate_dag.ops.rooms import frame_end_time
from real_estate_dag.ops.shots import probabilities_to_shots, transition_probabilities
from real_estate_dag.ops.visuals import TimelineRow, shot_timeline
from real_estate_dag.resources.store import Store, work_prefix


class ShotsConfig(Config):
    threshold: float = 0.5


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch", "parquet"},
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    code_version=code_version("shots-v1", "shots"),
    retry_policy=STORAGE_RETRY,
    description="Shots per video from TransNetV2 transition probabilities: [start, end] frames "
    "(inclusive) and seconds.",
)
def shot_boundaries(
    context: AssetExecutionContext,
    config: ShotsConfig,
    store: Store,
    models: ModelRegistry,
    video_frames: dict,
) -> MaterializeResult:
    model = models.shot_model()
    videos = []
    rows = []
    timeline = []
    run_started = time.perf_counter()
    for entry in video_frames["videos"]:
        decoded = decoded_video(store, entry)
        started = time.perf_counter()
        frames = decoded.shot_stream()

        def predict(windows: np.ndarray) -> np.ndarray:
            return run_batched(list(windows), model.windows_per_batch,
                               lambda batch: model.predict_windows(np.stack(batch)))

        probs = transition_probabilities(frames, predict, batch_windows=max(8, model.windows_per_batch),
                                         progress=Progress(context.log.info, f"{entry['name']}: shot model",
                                                           "frames"))
        np.save(store.work_dir(context.partition_key, "shots") / f"{len(videos):02d}-probs.npy", probs)
        shots = probabilities_to_shots(probs, config.threshold)
        times = decoded.times()
        seconds = time.perf_counter() - started
        context.log.info(f"{entry['name']}: {len(shots)} shots in {decoded.frame_count} frames "
                         f"({decoded.frame_count / seconds:.0f} frames/s)")
        videos.append({
            "name": entry["name"],
            "frame_count": decoded.frame_count,
            "fps": decoded.fps,
            "shots": [[s, e] for s, e in shots],
            "shot_seconds": [[round(float(times[s]), 3), round(frame_end_time(times, e), 3)] for s, e in shots],
            "peak_probability": [round(float(probs[s : e + 1].max()), 4) for s, e in shots],
        })
        timeline.append(TimelineRow(entry["name"], frame_end_time(times, decoded.frame_count - 1),
                                    [tuple(pair) for pair in videos[-1]["shot_seconds"]], probs))
        for i, ((s, e), (ts, te)) in enumerate(zip(shots, videos[-1]["shot_seconds"], strict=True)):
            rows.append({"video": entry["name"], "shot": i, "start_frame": s, "end_frame": e,
                         "start_s": ts, "end_s": te, "seconds": round(te - ts, 3)})
    store.save_dir(work_prefix(context.partition_key, "shots"))
    url = publish_table(store, context.partition_key, "shots", rows)
    backend = model.backend
    frame_total = sum(v["frame_count"] for v in videos)
    seconds = time.perf_counter() - run_started
    context.log.info(f"shot_boundaries: {counted(len(videos), 'video')}, {frame_total} frames, "
                     f"{counted(len(rows), 'shot')} in {seconds:.1f} s ({frame_total / seconds:.0f} frames/s), "
                     f"backend {backend.version_tag} on {model.device}")
    return MaterializeResult(
        value={"backend": backend.version_tag, "threshold": config.threshold, "videos": videos},
        metadata={
            "shot_count": len(rows),
            **provenance(backend, model.device),
            "table_url": MetadataValue.url(url),
            "timeline": image_markdown(shot_timeline(timeline), "shot timeline", "PNG",
                                       caption="Shots per video (alternating colours; gaps are transitions) "
                                       "and the TransNetV2 transition probability under them."),
            "shots": markdown_table(rows),
        },
    )
