"""video_frames: each video decoded once into the shot stream and sampled frames."""

import re
import time

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    bad_input,
    image_markdown,
    markdown_table,
    property_partitions,
)
from real_estate_dag.ops.decode import DecodedVideo, decode_video
from real_estate_dag.ops.probe import MediaError
from real_estate_dag.ops.progress import Progress, counted
from real_estate_dag.ops.visuals import contact_sheet, pick_evenly
from real_estate_dag.resources.store import Store, work_prefix


class FramesConfig(Config):
    sample_fps: float = 2.0
    sample_short_side: int = 224
    # wall-clock decode budget per video: this many seconds per second of footage, at least a minute
    decode_budget_factor: float = 5.0


def video_dir_name(index: int, name: str) -> str:
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "numpy"},
    code_version="frames-v2",
    retry_policy=STORAGE_RETRY,
    description="Each video decoded once: every frame at 48x27 for shot detection, plus sampled "
    "frames (2 fps, short side 224 px) as JPEGs for room labels and quality, saved in the store under "
    "work/<property>/frames/.",
)
def video_frames(
    context: AssetExecutionContext, config: FramesConfig, store: Store, property_manifest: dict
) -> MaterializeResult:
    key = context.partition_key
    videos = []
    decoded_videos: list[tuple[str, DecodedVideo]] = []
    rows = []
    run_started = time.perf_counter()
    for index, video in enumerate(property_manifest["videos"]):
        facts = video["facts"]
        folder = video_dir_name(index, video["name"])
        out_dir, prefix = store.work_dir(key, "frames", folder), work_prefix(key, "frames", folder)
        started = time.perf_counter()
        try:
            decoded = decode_video(
                store.local_path(video["key"]),
                video["key"],
                out_dir,
                rotation=facts["rotation"],
                sample_fps=config.sample_fps,
                sample_short_side=config.sample_short_side,
                expected_frames=facts["frame_count_estimate"],
                progress=Progress(context.log.info, f"{video['name']}: decoding", "frames"),
                timeout_s=max(60.0, config.decode_budget_factor * facts["duration_s"]),
            )
        except MediaError as exc:
            raise bad_input(str(exc), file=video["key"]) from exc
        store.save_dir(prefix)
        seconds = time.perf_counter() - started
        context.log.info(f"{video['name']}: decoded {decoded.frame_count} frames "
                         f"({decoded.frame_count / seconds:.0f} frames/s), {len(decoded.sampled)} sampled")
        # downstream steps find the streams by store key: on S3 they may run on another machine
        videos.append({"name": video["name"], "key": video["key"],
                       "decoded": {**decoded.to_dict(), "directory": prefix}})
        decoded_videos.append((video["name"], decoded))
        rows.append({"video": video["name"], "frames": decoded.frame_count, "fps": decoded.fps,
                     "sampled": len(decoded.sampled), "decode_s": round(seconds, 2)})
    frames, sampled = sum(r["frames"] for r in rows), sum(r["sampled"] for r in rows)
    seconds = time.perf_counter() - run_started
    context.log.info(f"video_frames: {counted(len(rows), 'video')}, {frames} frames decoded, {sampled} sampled "
                     f"in {seconds:.1f} s ({frames / seconds:.0f} frames/s)")
    return MaterializeResult(
        value={"videos": videos},
        metadata={
            "frame_count": frames,
            "sampled_count": sampled,
            "videos": markdown_table(rows),
            "contact_sheet": sampled_contact_sheet(decoded_videos),
        },
    )


def sampled_contact_sheet(videos: list[tuple[str, DecodedVideo]], count: int = 24) -> MetadataValue:
    """Sampled frames spread evenly over all the footage, captioned with video and time."""
    samples = [(name, decoded, sample) for name, decoded in videos for sample in decoded.sampled]
    picked = pick_evenly(samples, count)
    sheet = contact_sheet([(decoded.sampled_image(sample), f"{name} · {sample.time_s:.1f} s")
                           for name, decoded, sample in picked])
    return image_markdown(sheet, "contact sheet",
                          caption=f"{len(picked)} of {len(samples)} sampled frames, evenly spread")
