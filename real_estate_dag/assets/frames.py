"""video_frames: each video decoded once into the shot stream and sampled frames."""

import re

from dagster import MaterializeResult, MetadataValue

from real_estate_dag.assets.common import analysis_out, image_markdown, markdown_table
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.visuals import contact_sheet, pick_evenly

FRAMES = analysis_out(
    "video_frames",
    kinds={"python", "numpy"},
    code_version="frames-v2",
    description="Each video decoded once: every frame at 48x27 for shot detection, plus sampled "
    "frames (2 fps, short side 224 px) as JPEGs for room labels and quality, saved in the store under "
    "work/<property>/frames/.",
)


def video_dir_name(index: int, name: str) -> str:
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


def frames_result(
    videos: list[dict], rows: list[dict], decoded: list[tuple[str, DecodedVideo]], seconds: float
) -> tuple[MaterializeResult, str]:
    """The materialization and its summary line; ``videos`` and ``rows`` hold one entry per video."""
    frames, sampled = sum(r["frames"] for r in rows), sum(r["sampled"] for r in rows)
    summary = (f"video_frames: {counted(len(rows), 'video')}, {frames} frames decoded, {sampled} sampled "
               f"in {seconds:.1f} s ({frames / seconds:.0f} frames/s)")
    return MaterializeResult(
        asset_key=FRAMES.key,
        value={"videos": videos},
        metadata={
            "frame_count": frames,
            "sampled_count": sampled,
            "videos": markdown_table(rows),
            "contact_sheet": sampled_contact_sheet(decoded),
        },
    ), summary


def sampled_contact_sheet(videos: list[tuple[str, DecodedVideo]], count: int = 24) -> MetadataValue:
    """Sampled frames spread evenly over all the footage, captioned with video and time."""
    samples = [(name, decoded, sample) for name, decoded in videos for sample in decoded.sampled]
    picked = pick_evenly(samples, count)
    sheet = contact_sheet([(decoded.sampled_image(sample), f"{name} · {sample.time_s:.1f} s")
                           for name, decoded, sample in picked])
    return image_markdown(sheet, "contact sheet",
                          caption=f"{len(picked)} of {len(samples)} sampled frames, evenly spread")
