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
    decoded_video,
    metadata_value,
    property_partitions,
    publish_table,
    table,
)
from real_estate_dag.assets.photos import photos_table
from real_estate_dag.ops.decode import TIMES_FILE
from real_estate_dag.ops.photo_select import plan_edit
from real_estate_dag.ops.reports import clip_pictures
from real_estate_dag.ops.select import SelectionParams, build_candidates, clips_outside_shots
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries

EDIT_COLUMNS = ("order", "video", "room", "in_s", "out_s", "duration_s", "score", "stability", "source", "reason")


class SelectionConfig(Config):
    min_clip_s: float = 2.0
    max_clip_s: float = 6.0
    preferred_clip_s: float = 4.0
    duplicate_similarity: float = 0.9
    title_s: float = 3.0
    crossfade_s: float = 0.5


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    code_version="select-v1",
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
    photo_analysis: dict,
) -> MaterializeResult:
    with transient_retries(context):
        return _select(context, config, store, property_manifest, video_frames, shot_boundaries, room_labels,
                       quality_scores, photo_analysis)


def _select(context: AssetExecutionContext, config: SelectionConfig, store: Store, property_manifest: dict,
            video_frames: dict, shot_boundaries: dict, room_labels: dict, quality_scores: dict,
            photo_analysis: dict) -> MaterializeResult:
    params = SelectionParams(**config.model_dump())
    target = property_manifest["manifest"]["options"]["target_duration_s"]
    times = [np.load(store.local_path(f"{entry['decoded']['directory']}/{TIMES_FILE}"))
             for entry in video_frames["videos"]]
    embeddings = [np.load(store.local_path(video["embeddings"])).astype(np.float32)
                  for video in room_labels["videos"]]
    names = [entry["name"] for entry in video_frames["videos"]]
    candidates = build_candidates(list(zip(names, times, embeddings, strict=True)), room_labels["segments"],
                                  quality_scores["frames"])
    selection = plan_edit(candidates, photo_analysis["photos"], target, params)
    clips = selection.clips
    photo_clips = [c for c in clips if c["source"] == "photo"]
    context.log.info(f"chose {len(clips)} clips from {len(candidates)} segments for a "
                     f"{selection.showcase_s:.1f} s showcase (target {target:g} s); "
                     f"{selection.dropped_duplicates} near-duplicates dropped"
                     + (f"; {len(photo_clips)} of them photo clips, from {len(photo_analysis['photos'])} photos"
                        if photo_analysis["photos"] else ""))
    outside = clips_outside_shots(clips, {v["name"]: v["shots"] for v in shot_boundaries["videos"]})
    within = abs(selection.showcase_s - target) <= 0.1 * target
    url = publish_table(store, context.partition_key, "clips", clips)
    photos_url = publish_table(store, context.partition_key, "photos",
                               photos_table(photo_analysis, {c["video"] for c in photo_clips}))
    videos = [(entry["name"], decoded_video(store, entry), frame_times)
              for entry, frame_times in zip(video_frames["videos"], times, strict=True)]
    pictures = clip_pictures([c for c in clips if c["source"] == "video"], videos, quality_scores["frames"]) \
        if videos else {}
    hero = next((r for r in photo_analysis["photos"] if r["hero"]), None)
    return MaterializeResult(
        value={
            "clips": clips,
            "target_s": target,
            "showcase_s": selection.showcase_s,
            "shortfall_s": selection.shortfall_s,
            "dropped_duplicates": selection.dropped_duplicates,
            "params": params.__dict__,
            # each video's picture inside any black bars, which the render frames
            "pictures": {entry["name"]: entry["decoded"]["picture"] for entry in video_frames["videos"]},
            # the photo the title card is drawn over (photo_analysis' hero), corrected
            "hero": {"file": hero["file"], "key": hero["enhanced_key"]} if hero else None,
        },
        metadata={
            "clip_count": len(clips),
            "showcase_s": selection.showcase_s,
            "target_s": target,
            "shortfall_s": selection.shortfall_s,
            "dropped_duplicates": selection.dropped_duplicates,
            "table_url": MetadataValue.url(url),
            "photos_table_url": MetadataValue.url(photos_url),
            "photo_clips": len(photo_clips),
            "edit_decision_list": table([{k: c[k] for k in EDIT_COLUMNS} for c in clips], columns=EDIT_COLUMNS),
            **{name: metadata_value(picture) for name, picture in pictures.items()},
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
