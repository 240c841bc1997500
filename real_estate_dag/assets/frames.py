"""video_frames: each video decoded once into the shot stream and sampled frames."""

import re
import time

from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    bad_input,
    markdown_table,
    property_partitions,
)
from real_estate_dag.ops.decode import decode_video
from real_estate_dag.ops.probe import MediaError
from real_estate_dag.resources.store import LocalStore


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
    code_version="frames-v1",
    retry_policy=STORAGE_RETRY,
    description="Each video decoded once: every frame at 48x27 for shot detection, plus sampled "
    "frames (2 fps, short side 224 px) as JPEGs for room labels and quality.",
)
def video_frames(
    context: AssetExecutionContext, config: FramesConfig, store: LocalStore, property_manifest: dict
) -> MaterializeResult:
    key = context.partition_key
    videos = []
    rows = []
    for index, video in enumerate(property_manifest["videos"]):
        facts = video["facts"]
        out_dir = store.work_dir(key, "frames", video_dir_name(index, video["name"]))
        started = time.perf_counter()

        def progress(done: int, total: int, name: str = video["name"]) -> None:
            if done and total:
                context.log.debug(f"{name}: decoded {done}/{total} frames")

        try:
            decoded = decode_video(
                store.local_path(video["key"]),
                video["key"],
                out_dir,
                rotation=facts["rotation"],
                sample_fps=config.sample_fps,
                sample_short_side=config.sample_short_side,
                expected_frames=facts["frame_count_estimate"],
                progress=progress,
                timeout_s=max(60.0, config.decode_budget_factor * facts["duration_s"]),
            )
        except MediaError as exc:
            raise bad_input(str(exc), file=video["key"]) from exc
        seconds = time.perf_counter() - started
        context.log.info(f"{video['name']}: decoded {decoded.frame_count} frames "
                         f"({decoded.frame_count / seconds:.0f} frames/s), {len(decoded.sampled)} sampled")
        videos.append({"name": video["name"], "key": video["key"], "decoded": decoded.to_dict()})
        rows.append({"video": video["name"], "frames": decoded.frame_count, "fps": decoded.fps,
                     "sampled": len(decoded.sampled), "decode_s": round(seconds, 2)})
    return MaterializeResult(
        value={"videos": videos},
        metadata={
            "frame_count": sum(r["frames"] for r in rows),
            "sampled_count": sum(r["sampled"] for r in rows),
            "videos": markdown_table(rows),
        },
    )
