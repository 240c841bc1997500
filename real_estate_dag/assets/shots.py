"""shot_boundaries: TransNetV2 shots per video, in frames and seconds."""

import numpy as np
from dagster import MaterializeResult, MetadataValue

from real_estate_dag.assets.common import (
    analysis_out,
    image_markdown,
    markdown_table,
    provenance,
    publish_table,
)
from real_estate_dag.gpu_resources.backends import ShotModel
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.rooms import frame_end_time
from real_estate_dag.ops.shots import probabilities_to_shots
from real_estate_dag.ops.visuals import TimelineRow, shot_timeline
from real_estate_dag.resources.store import Store, work_prefix

SHOTS = analysis_out(
    "shot_boundaries",
    kinds={"pytorch", "parquet"},
    code_version="shots-v1",
    description="Shots per video from TransNetV2 transition probabilities: [start, end] frames "
    "(inclusive) and seconds.",
)


def shots_result(
    store: Store,
    partition_key: str,
    videos_probs: list[tuple[str, DecodedVideo, np.ndarray]],
    threshold: float,
    model: ShotModel,
    seconds: float,
) -> tuple[MaterializeResult, str]:
    """Shots from each video's transition probabilities; the materialization and its summary line."""
    videos = []
    rows = []
    timeline = []
    for index, (name, decoded, probs) in enumerate(videos_probs):
        np.save(store.work_dir(partition_key, "shots") / f"{index:02d}-probs.npy", probs)
        shots = probabilities_to_shots(probs, threshold)
        times = decoded.times()
        videos.append({
            "name": name,
            "frame_count": decoded.frame_count,
            "fps": decoded.fps,
            "shots": [[s, e] for s, e in shots],
            "shot_seconds": [[round(float(times[s]), 3), round(frame_end_time(times, e), 3)] for s, e in shots],
            "peak_probability": [round(float(probs[s : e + 1].max()), 4) for s, e in shots],
        })
        timeline.append(TimelineRow(name, frame_end_time(times, decoded.frame_count - 1),
                                    [tuple(pair) for pair in videos[-1]["shot_seconds"]], probs))
        for i, ((s, e), (ts, te)) in enumerate(zip(shots, videos[-1]["shot_seconds"], strict=True)):
            rows.append({"video": name, "shot": i, "start_frame": s, "end_frame": e,
                         "start_s": ts, "end_s": te, "seconds": round(te - ts, 3)})
    store.save_dir(work_prefix(partition_key, "shots"))
    url = publish_table(store, partition_key, "shots", rows)
    backend = model.backend
    frame_total = sum(v["frame_count"] for v in videos)
    summary = (f"shot_boundaries: {counted(len(videos), 'video')}, {frame_total} frames, "
               f"{counted(len(rows), 'shot')} in {seconds:.1f} s ({frame_total / seconds:.0f} frames/s), "
               f"backend {backend.version_tag} on {model.device}")
    return MaterializeResult(
        asset_key=SHOTS.key,
        value={"backend": backend.version_tag, "threshold": threshold, "videos": videos},
        metadata={
            "shot_count": len(rows),
            **provenance(backend, model.device),
            "table_url": MetadataValue.url(url),
            "timeline": image_markdown(shot_timeline(timeline), "shot timeline", "PNG",
                                       caption="Shots per video (alternating colours; gaps are transitions) "
                                       "and the TransNetV2 transition probability under them."),
            "shots": markdown_table(rows),
        },
    ), summary
