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
    image_markdown,
    metadata_value,
    property_partitions,
    publish_table,
    table,
)
from real_estate_dag.assets.photos import photos_table
from real_estate_dag.ops.beats import MusicBeats, beat_grid_picture, beats_from_dict
from real_estate_dag.ops.decode import TIMES_FILE
from real_estate_dag.ops.photo_select import plan_edit
from real_estate_dag.ops.reports import clip_pictures
from real_estate_dag.ops.select import Selection, SelectionParams, build_candidates, clips_outside_shots
from real_estate_dag.ops.speech import Transcript, inside_word
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries

EDIT_COLUMNS = ("order", "video", "room", "in_s", "out_s", "duration_s", "showcase_in_s", "showcase_out_s", "score",
                "stability", "source", "reason")


class SelectionConfig(Config):
    min_clip_s: float = 2.0
    max_clip_s: float = 6.0
    preferred_clip_s: float = 4.0
    duplicate_similarity: float = 0.9
    title_s: float = 3.0
    crossfade_s: float = 0.5
    closing_s: float = 3.0


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    code_version="select-v2",
    dagster_type=DagsterAny,  # with check specs, Dagster would otherwise type the value as Nothing
    check_specs=[
        AssetCheckSpec("clips_inside_shots", asset="selected_clips",
                       description="Every clip lies inside one detected shot."),
        AssetCheckSpec("fits_target_duration", asset="selected_clips",
                       description="The edit is within 10% of the manifest's target duration."),
        AssetCheckSpec("no_cut_inside_a_word", asset="selected_clips",
                       description="No clip of a narrated video starts or ends inside a spoken word."),
    ],
    description="The edit decision list: source video, in/out frames and seconds, room, score and "
    "order, and each clip's place on the showcase's time line. Clips stay inside a shot, near-duplicates are "
    "dropped, rooms follow the tour order; with music the cuts sit on the beat (or bar) where the clip can move.",
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
    music_beats: dict,
    narration: dict,
) -> MaterializeResult:
    with transient_retries(context):
        return _select(context, config, store, property_manifest, video_frames, shot_boundaries, room_labels,
                       quality_scores, photo_analysis, music_beats, narration)


def _select(context: AssetExecutionContext, config: SelectionConfig, store: Store, property_manifest: dict,
            video_frames: dict, shot_boundaries: dict, room_labels: dict, quality_scores: dict,
            photo_analysis: dict, music_beats: dict, narration: dict) -> MaterializeResult:
    params = SelectionParams(**config.model_dump())
    target = property_manifest["manifest"]["options"]["target_duration_s"]
    times = [np.load(store.local_path(f"{entry['decoded']['directory']}/{TIMES_FILE}"))
             for entry in video_frames["videos"]]
    embeddings = [np.load(store.local_path(video["embeddings"])).astype(np.float32)
                  for video in room_labels["videos"]]
    names = [entry["name"] for entry in video_frames["videos"]]
    transcripts = {v["video"]: Transcript.from_dict(v) for v in narration["videos"] if v["segments"]}
    candidates = build_candidates(list(zip(names, times, embeddings, strict=True)), room_labels["segments"],
                                  quality_scores["frames"], transcripts)
    beats = beats_from_dict(music_beats["beats"]) if music_beats["beats"] else None
    selection = plan_edit(candidates, photo_analysis["photos"], target, params, beats)
    clips = [c.to_dict() for c in selection.clips]
    photo_clips = [c for c in clips if c["source"] == "photo"]
    context.log.info(f"chose {len(clips)} clips from {len(candidates)} segments for a "
                     f"{selection.showcase_s:.1f} s showcase (target {target:g} s); "
                     f"{selection.dropped_duplicates} near-duplicates dropped"
                     + (f"; {len(photo_clips)} of them photo clips, from {len(photo_analysis['photos'])} photos"
                        if photo_analysis["photos"] else ""))
    outside = clips_outside_shots(clips, {v["name"]: v["shots"] for v in shot_boundaries["videos"]})
    within = abs(selection.showcase_s - target) <= 0.1 * target
    cut_words = [f"clip {c['order']} ({c['video']}) {edge} at {c[key]:.2f} s inside {word.text!r}"
                 for c in clips if c["video"] in transcripts for edge, key in (("starts", "in_s"), ("ends", "out_s"))
                 if (word := inside_word(c[key], transcripts[c["video"]].words))]
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
            "title_s": selection.title_s,
            "closing_s": selection.closing_s,
            "cuts_s": list(selection.cuts_s),
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
            "title_s": selection.title_s,
            "closing_s": selection.closing_s,
            **beat_metadata(selection, beats),
            "photos_table_url": MetadataValue.url(photos_url),
            "photo_clips": len(photo_clips),
            "edit_decision_list": table([{k: c[k] for k in EDIT_COLUMNS} for c in clips], columns=EDIT_COLUMNS),
            **{name: metadata_value(picture) for name, picture in pictures.items()},
        },
        check_results=[
            AssetCheckResult(check_name="clips_inside_shots", passed=not outside,
                             metadata={"clips_outside": MetadataValue.text("; ".join(outside) or "none")}),
            AssetCheckResult(check_name="no_cut_inside_a_word", passed=not cut_words,
                             metadata={"cuts_inside_words": MetadataValue.text("; ".join(cut_words) or "none"),
                                       "narrated_videos": len(transcripts)}),
            AssetCheckResult(
                check_name="fits_target_duration", passed=within, severity=AssetCheckSeverity.WARN,
                metadata={"showcase_s": selection.showcase_s, "target_s": target,
                          "shortfall_s": selection.shortfall_s},
                description=None if within else
                "the footage holds too few distinct usable clips for the target duration",
            ),
        ],
    )


def beat_metadata(selection: Selection, beats: MusicBeats | None) -> dict:
    """Tempo, the beat grid with the cuts on it and each cut's distance from its beat."""
    if beats is None:
        return {}
    offsets = list(selection.cut_offsets_s)
    return {
        "tempo_bpm": beats.tempo_bpm,
        "tempo_confidence": beats.tempo_confidence,
        "max_cut_offset_s": max(offsets, default=0.0),
        "beat_grid": image_markdown(beat_grid_picture(beats, list(selection.cuts_s), selection.showcase_s),
                                    "beat grid", fmt="PNG"),
        "cut_offsets": table([{"cut": i, "at_s": at, "from_beat_s": off}
                              for i, (at, off) in enumerate(zip(selection.cuts_s, offsets, strict=True))]),
    }
