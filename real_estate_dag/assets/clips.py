"""selected_clips: the edit decision list."""

import numpy as np
from dagster import Any as DagsterAny
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    decoded_video,
    image_markdown,
    markdown_table,
    property_partitions,
    publish_table,
)
from real_estate_dag.assets.quality import score_series
from real_estate_dag.ops.decode import TIMES_FILE
from real_estate_dag.ops.select import Candidate, SelectionParams, select_clips
from real_estate_dag.ops.visuals import ClipMark, contact_sheet, score_plot
from real_estate_dag.resources.store import Store


class SelectionConfig(Config):
    min_clip_s: float = 2.0
    max_clip_s: float = 6.0
    preferred_clip_s: float = 4.0
    duplicate_similarity: float = 0.9
    title_s: float = 3.0
    crossfade_s: float = 0.5


def build_candidates(store: Store, video_frames: dict, room_labels: dict, quality_scores: dict) -> list[Candidate]:
    candidates = []
    for video_index, (entry, rooms_video) in enumerate(
        zip(video_frames["videos"], room_labels["videos"], strict=True)
    ):
        times = np.load(store.local_path(f"{entry['decoded']['directory']}/{TIMES_FILE}"))
        embeddings = np.load(store.local_path(rooms_video["embeddings"])).astype(np.float32)
        frame_rows = [r for r in quality_scores["frames"] if r["video"] == entry["name"]]
        sample_times = np.array([r["time_s"] for r in frame_rows])
        scores = np.array([r["score"] for r in frame_rows])
        stability = np.array([r["stability"] for r in frame_rows])
        for segment_index, segment in enumerate(room_labels["segments"]):
            if segment["video"] != entry["name"]:
                continue
            samples = list(segment["samples"])
            embedding = embeddings[samples].mean(axis=0)
            candidates.append(Candidate(
                video=entry["name"], video_index=video_index, shot=segment["shot"],
                segment=segment_index, room=segment["room"],
                first_frame=segment["start_frame"], last_frame=segment["end_frame"],
                start_s=segment["start_s"], end_s=segment["end_s"],
                sample_times=sample_times[samples], sample_scores=scores[samples],
                sample_stability=stability[samples],
                embedding=embedding / (np.linalg.norm(embedding) + 1e-9), frame_times=times,
            ))
    return candidates


def clips_inside_shots(clips: list[dict], shot_boundaries: dict) -> list[str]:
    """Descriptions of clips that do not lie inside exactly one detected shot."""
    shots = {v["name"]: v["shots"] for v in shot_boundaries["videos"]}
    return [
        f"clip {c['order']} ({c['video']} frames {c['in_frame']}-{c['out_frame']})"
        for c in clips
        if not any(s <= c["in_frame"] and c["out_frame"] <= e for s, e in shots[c["video"]])
    ]


def clip_pictures(
    store: Store, clips: list[dict], video_frames: dict, quality_scores: dict
) -> dict[str, MetadataValue]:
    """The score plot with the chosen clips marked, and the sampled frame nearest each clip's middle."""
    marks = [ClipMark(c["video"], c["in_s"], c["out_s"], f"#{c['order']}") for c in clips]
    pictures = {"score_plot": image_markdown(
        score_plot(score_series(video_frames["videos"], quality_scores["frames"]), marks), "chosen clips", "PNG",
        caption="Quality score over time; the shaded spans are the chosen clips, numbered in showcase order.")}
    if clips:
        decoded = {v["name"]: decoded_video(store, v) for v in video_frames["videos"]}
        frames = []
        for c in clips:
            video = decoded[c["video"]]
            middle = (c["in_s"] + c["out_s"]) / 2
            sample = min(video.sampled, key=lambda s: abs(s.time_s - middle))
            frames.append((video.sampled_image(sample), f"#{c['order']} · {c['room']} · {c['duration_s']:.1f} s"))
        pictures["clip_frames"] = image_markdown(contact_sheet(frames), "chosen clips",
                                                 caption="The middle of each chosen clip, in showcase order.")
    return pictures


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    code_version="select-v1",
    retry_policy=STORAGE_RETRY,
    dagster_type=DagsterAny,  # with check specs, Dagster would otherwise type the value as Nothing
    check_specs=[
        AssetCheckSpec("clips_inside_shots", asset="selected_clips",
                       description="Every clip lies inside one detected shot."),
        AssetCheckSpec("fits_target_duration", asset="selected_clips",
                       description="The edit is within 10% of the manifest's target duration."),
    ],
    description="The edit decision list: source video, in/out frames and seconds, room, score and "
    "order. Clips stay inside a shot, near-duplicates are dropped, rooms follow the tour order.",
)
def selected_clips(
    context: AssetExecutionContext,
    config: SelectionConfig,
    store: Store,
    property_manifest: dict,
    video_frames: dict,
    shot_boundaries: dict,
    room_labels: dict,
    quality_scores: dict,
) -> MaterializeResult:
    params = SelectionParams(**config.model_dump())
    target = property_manifest["manifest"]["options"]["target_duration_s"]
    candidates = build_candidates(store, video_frames, room_labels, quality_scores)
    selection = select_clips(candidates, target, params)
    clips = [c.to_dict() for c in selection.clips]
    context.log.info(f"chose {len(clips)} clips from {len(candidates)} segments for a "
                     f"{selection.showcase_s:.1f} s showcase (target {target:g} s); "
                     f"{selection.dropped_duplicates} near-duplicates dropped")
    outside = clips_inside_shots(clips, shot_boundaries)
    within = abs(selection.showcase_s - target) <= 0.1 * target
    url = publish_table(store, context.partition_key, "clips", clips)
    return MaterializeResult(
        value={
            "clips": clips,
            "target_s": target,
            "showcase_s": selection.showcase_s,
            "shortfall_s": selection.shortfall_s,
            "dropped_duplicates": selection.dropped_duplicates,
            "params": params.__dict__,
        },
        metadata={
            "clip_count": len(clips),
            "showcase_s": selection.showcase_s,
            "target_s": target,
            "shortfall_s": selection.shortfall_s,
            "dropped_duplicates": selection.dropped_duplicates,
            "table_url": MetadataValue.url(url),
            "edit_decision_list": markdown_table([
                {k: c[k] for k in ("order", "video", "room", "in_s", "out_s", "duration_s", "score",
                                   "stability")} for c in clips
            ]),
            **clip_pictures(store, clips, video_frames, quality_scores),
        },
        check_results=[
            AssetCheckResult(check_name="clips_inside_shots", passed=not outside,
                             metadata={"clips_outside": MetadataValue.text("; ".join(outside) or "none")}),
            AssetCheckResult(
                check_name="fits_target_duration", passed=within, severity=AssetCheckSeverity.WARN,
                metadata={"showcase_s": selection.showcase_s, "target_s": target,
                          "shortfall_s": selection.shortfall_s},
                description=None if within else
                "the footage holds too few distinct usable clips for the target duration",
            ),
        ],
    )
