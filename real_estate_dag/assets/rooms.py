"""room_labels: a room type for every segment (a shot, split where the room changes)."""

import numpy as np
from dagster import MaterializeResult, MetadataValue

from real_estate_dag.assets.common import (
    analysis_out,
    markdown_table,
    provenance,
    publish_table,
)
from real_estate_dag.gpu_resources.backends import RoomModel
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.rooms import ROOM_TYPES, label_segments
from real_estate_dag.ops.visuals import data_uri, pick_evenly, thumbnail_strip
from real_estate_dag.resources.store import Store, work_prefix

ROOMS = analysis_out(
    "room_labels",
    kinds={"pytorch", "parquet"},
    code_version="rooms-v2",
    description="Room type per segment (shots, split where the label changes inside a long take), "
    "with confidence and top-3, from the room model's per-frame probabilities.",
)
SEGMENT_ROWS = 50  # rows with thumbnails shown in the UI; rooms.parquet holds every segment


def segment_strip(decoded: DecodedVideo, samples: list[int], count: int = 3) -> str:
    """A few of the segment's sampled frames side by side, as an inline markdown image."""
    images = [decoded.sampled_image(decoded.sampled[i]) for i in pick_evenly(samples, count)]
    return f"![frames]({data_uri(thumbnail_strip(images, height=36), max_bytes=12_000)})"


def rooms_result(
    store: Store,
    partition_key: str,
    videos_outputs: list[tuple[str, DecodedVideo, list[list[int]], np.ndarray, np.ndarray]],
    model: RoomModel,
    device: str,
    min_segment_s: float,
    smoothing_window: int,
    seconds: float,
) -> tuple[MaterializeResult, str]:
    """Segments from each video's (name, decoded, shots, sample probabilities, embeddings); the
    materialization and its summary line."""
    segments = []
    videos = []
    decoded_by_name = {}
    for index, (name, decoded, shots, probs, embeddings) in enumerate(videos_outputs):
        embeddings_file = f"{index:02d}-embeddings.npy"
        np.save(store.work_dir(partition_key, "rooms") / embeddings_file, embeddings.astype(np.float16))
        video_segments = label_segments(
            name,
            [tuple(s) for s in shots],
            decoded.times(),
            np.array([s.index for s in decoded.sampled]),
            probs,
            ROOM_TYPES,
            min_segment_s=min_segment_s,
            smoothing_window=smoothing_window,
        )
        segments.extend(s.to_dict() for s in video_segments)
        decoded_by_name[name] = decoded
        videos.append({"name": name, "embeddings": f"{work_prefix(partition_key, 'rooms')}/{embeddings_file}",
                       "sample_probs": np.round(probs, 4).tolist()})
    rows = [{"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
             "room": s["room"], "confidence": s["confidence"],
             "top3": ", ".join(f"{r} {p:.2f}" for r, p in s["top3"])} for s in segments]
    store.save_dir(work_prefix(partition_key, "rooms"))
    url = publish_table(store, partition_key, "rooms", rows)
    backend = model.backend
    counts = {room: sum(1 for s in segments if s["room"] == room) for room in ROOM_TYPES}
    frames = sum(len(v["sample_probs"]) for v in videos)
    summary = (f"room_labels: {counted(len(videos), 'video')}, {frames} sampled frames, "
               f"{counted(len(segments), 'segment')} in {seconds:.1f} s ({frames / seconds:.1f} frames/s), "
               f"backend {backend.version_tag} on {device}")
    return MaterializeResult(
        asset_key=ROOMS.key,
        value={"backend": backend.version_tag, "rooms": list(ROOM_TYPES), "segments": segments,
               "videos": videos},
        metadata={
            "segment_count": len(segments),
            "rooms_found": ", ".join(f"{r}: {n}" for r, n in counts.items() if n) or "(none)",
            **provenance(backend, device),
            "table_url": MetadataValue.url(url),
            "segments": markdown_table([
                {"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
                 "room": s["room"], "confidence": s["confidence"],
                 "frames": segment_strip(decoded_by_name[s["video"]], s["samples"]) if i < SEGMENT_ROWS else ""}
                for i, s in enumerate(segments)
            ], limit=SEGMENT_ROWS),
        },
    ), summary
