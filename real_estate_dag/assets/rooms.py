"""room_labels: a room type for every segment (a shot, split where the room changes)."""

import time

import numpy as np
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    decoded_video,
    markdown_table,
    property_partitions,
    provenance,
    publish_table,
)
from real_estate_dag.assets.versions import code_version
from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.k8s import GPU_OP_TAGS
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.progress import Progress, counted
from real_estate_dag.ops.rooms import ROOM_TYPES, label_segments
from real_estate_dag.ops.visuals import data_uri, pick_evenly, thumbnail_strip
from real_estate_dag.resources.store import Store, work_prefix


class RoomsConfig(Config):
    min_segment_s: float = 2.0
    smoothing_window: int = 3


SEGMENT_ROWS = 50  # rows with thumbnails shown in the UI; rooms.parquet holds every segment


def segment_strip(decoded: DecodedVideo, samples: list[int], count: int = 3) -> str:
    """A few of the segment's sampled frames side by side, as an inline markdown image."""
    images = [decoded.sampled_image(decoded.sampled[i]) for i in pick_evenly(samples, count)]
    return f"![frames]({data_uri(thumbnail_strip(images, height=36), max_bytes=12_000)})"


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch", "parquet"},
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    code_version=code_version("rooms-v2", "rooms"),
    retry_policy=STORAGE_RETRY,
    description="Room type per segment (shots, split where the label changes inside a long take), "
    "with confidence and top-3, from the room model's per-frame probabilities.",
)
def room_labels(
    context: AssetExecutionContext,
    config: RoomsConfig,
    store: Store,
    models: ModelRegistry,
    video_frames: dict,
    shot_boundaries: dict,
) -> MaterializeResult:
    model = models.room_model()
    segments = []
    videos = []
    decoded_by_name = {}
    run_started = time.perf_counter()
    for index, (entry, shots) in enumerate(zip(video_frames["videos"], shot_boundaries["videos"], strict=True)):
        decoded = decoded_video(store, entry)
        started = time.perf_counter()
        outputs: list[tuple[np.ndarray, np.ndarray]] = []
        progress = Progress(context.log.info, f"{entry['name']}: room model", "frames")

        def classify(batch: list, decoded: DecodedVideo = decoded, outputs: list = outputs,
                     progress: Progress = progress) -> np.ndarray:
            probs, embeddings = model.classify([decoded.sampled_image(s) for s in batch])
            outputs.append((probs, embeddings))
            progress(sum(len(p) for p, _ in outputs), len(decoded.sampled))
            return probs

        probs = run_batched(list(decoded.sampled), models.batch_size, classify)
        embeddings = np.concatenate([e for _, e in outputs])[-len(probs):]
        embeddings_file = f"{index:02d}-embeddings.npy"
        np.save(store.work_dir(context.partition_key, "rooms") / embeddings_file, embeddings.astype(np.float16))
        sample_frames = np.array([s.index for s in decoded.sampled])
        video_segments = label_segments(
            entry["name"],
            [tuple(s) for s in shots["shots"]],
            decoded.times(),
            sample_frames,
            probs,
            ROOM_TYPES,
            min_segment_s=config.min_segment_s,
            smoothing_window=config.smoothing_window,
        )
        segments.extend(s.to_dict() for s in video_segments)
        decoded_by_name[entry["name"]] = decoded
        videos.append({"name": entry["name"],
                       "embeddings": f"{work_prefix(context.partition_key, 'rooms')}/{embeddings_file}",
                       "sample_probs": np.round(probs, 4).tolist()})
        context.log.info(f"{entry['name']}: {len(video_segments)} segments from {len(probs)} frames "
                         f"({len(probs) / (time.perf_counter() - started):.1f} frames/s)")
    rows = [{"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
             "room": s["room"], "confidence": s["confidence"],
             "top3": ", ".join(f"{r} {p:.2f}" for r, p in s["top3"])} for s in segments]
    store.save_dir(work_prefix(context.partition_key, "rooms"))
    url = publish_table(store, context.partition_key, "rooms", rows)
    backend = model.backend
    counts = {room: sum(1 for s in segments if s["room"] == room) for room in ROOM_TYPES}
    seconds = time.perf_counter() - run_started
    frames = sum(len(v["sample_probs"]) for v in videos)
    context.log.info(f"room_labels: {counted(len(videos), 'video')}, {frames} sampled frames, "
                     f"{counted(len(segments), 'segment')} in {seconds:.1f} s ({frames / seconds:.1f} frames/s), "
                     f"backend {backend.version_tag} on {model.device}")
    return MaterializeResult(
        value={"backend": backend.version_tag, "rooms": list(ROOM_TYPES), "segments": segments,
               "videos": videos},
        metadata={
            "segment_count": len(segments),
            "rooms_found": ", ".join(f"{r}: {n}" for r, n in counts.items() if n) or "(none)",
            **provenance(backend, model.device),
            "table_url": MetadataValue.url(url),
            "segments": markdown_table([
                {"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
                 "room": s["room"], "confidence": s["confidence"],
                 "frames": segment_strip(decoded_by_name[s["video"]], s["samples"]) if i < SEGMENT_ROWS else ""}
                for i, s in enumerate(segments)
            ], limit=SEGMENT_ROWS),
        },
    )
