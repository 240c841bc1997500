"""quality_scores: sharpness, exposure, camera stability and model IQA per sampled frame and shot."""

import numpy as np
from dagster import MaterializeResult, MetadataValue

from real_estate_dag.assets.common import (
    analysis_out,
    image_markdown,
    markdown_table,
    provenance,
    publish_table,
)
from real_estate_dag.gpu_resources.backends import IqaModel
from real_estate_dag.ops import quality
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.visuals import ScoreSeries, score_plot
from real_estate_dag.resources.store import Store

QUALITY = analysis_out(
    "quality_scores",
    kinds={"pytorch", "parquet"},
    code_version="quality-v2",
    description="Per sampled frame: sharpness (Laplacian), exposure, camera stability (shake after "
    "smoothing the frame-to-frame motion) and a pyiqa no-reference score; combined 0..1, and "
    "averaged per shot.",
)


def score_series(videos: list[dict], frame_rows: list[dict]) -> list[ScoreSeries]:
    """Per video: the time and combined score of each sampled frame, for plotting."""
    series = []
    for entry in videos:
        decoded = DecodedVideo.from_dict(entry["decoded"])
        rows = [r for r in frame_rows if r["video"] == entry["name"]]
        series.append(ScoreSeries(entry["name"], decoded.frame_count / decoded.fps,
                                  np.array([r["time_s"] for r in rows]), np.array([r["score"] for r in rows])))
    return series


def quality_result(
    store: Store,
    partition_key: str,
    frame_entries: list[dict],
    videos_outputs: list[tuple[str, DecodedVideo, list[list[int]], dict[str, np.ndarray]]],
    model: IqaModel,
    device: str,
    seconds: float,
) -> tuple[MaterializeResult, str]:
    """Scores from each video's (name, decoded, shots, sample outputs: iqa_raw, sharpness, exposure);
    the materialization and its summary line."""
    frames_out = []
    shots_out = []
    for name, decoded, shots, outputs in videos_outputs:
        motion = quality.frame_motion(decoded.shot_stream())
        centres = np.array([s.index for s in decoded.sampled])
        stability = quality.stability(motion, decoded.fps, centres, [tuple(s) for s in shots])
        raw = outputs["iqa_raw"]
        iqa = model.normalise(raw)
        video_rows = []
        for i, sample in enumerate(decoded.sampled):
            sharp, expo = float(outputs["sharpness"][i]), float(outputs["exposure"][i])
            video_rows.append({
                "video": name, "sample": i, "frame": sample.index, "time_s": sample.time_s,
                "sharpness": round(sharp, 4), "exposure": round(expo, 4),
                "stability": round(float(stability[i]), 4),
                "iqa_raw": None if np.isnan(raw[i]) else round(float(raw[i]), 4), "iqa": round(float(iqa[i]), 4),
                "score": round(quality.combine(float(iqa[i]), sharp, expo, float(stability[i])), 4),
            })
        frames_out.extend(video_rows)
        for shot_index, (start, end) in enumerate(shots):
            inside = [r for r in video_rows if start <= r["frame"] <= end]
            if inside:
                shots_out.append({
                    "video": name, "shot": shot_index,
                    "score": round(float(np.mean([r["score"] for r in inside])), 4),
                    "stability": round(float(np.mean([r["stability"] for r in inside])), 4),
                    "samples": len(inside),
                })
    url = publish_table(store, partition_key, "quality", frames_out)
    backend = model.backend
    scores = [r["score"] for r in frames_out]
    summary = (f"quality_scores: {counted(len(videos_outputs), 'video')}, {len(frames_out)} sampled frames "
               f"scored in {seconds:.1f} s ({len(frames_out) / seconds:.1f} frames/s), "
               f"mean score {np.mean(scores):.3f}, backend {backend.version_tag} on {device}")
    return MaterializeResult(
        asset_key=QUALITY.key,
        value={"backend": backend.version_tag, "frames": frames_out, "shots": shots_out},
        metadata={
            "frames_scored": len(frames_out),
            "mean_score": round(float(np.mean(scores)), 4),
            **provenance(backend, device),
            "table_url": MetadataValue.url(url),
            "score_plot": image_markdown(score_plot(score_series(frame_entries, frames_out)), "quality scores",
                                         "PNG", caption="Combined quality score (0..1) of each sampled frame over "
                                         "time; the chosen clips are marked on selected_clips."),
            "shots": markdown_table(shots_out),
        },
    ), summary
