"""room_labels: a room type for every segment (a shot, split where the room changes)."""

import time

import numpy as np
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
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
from real_estate_dag.ops.rooms import ROOM_TYPES, label_segments
from real_estate_dag.resources.store import LocalStore


class RoomsConfig(Config):
    min_segment_s: float = 2.0
    smoothing_window: int = 3


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch"},
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    code_version=code_version("rooms-v1", "rooms"),
    description="Room type per segment (shots, split where the label changes inside a long take), "
    "with confidence and top-3, from the room model's per-frame probabilities.",
)
def room_labels(
    context: AssetExecutionContext,
    config: RoomsConfig,
    store: LocalStore,
    models: ModelRegistry,
    video_frames: dict,
    shot_boundaries: dict,
) -> MaterializeResult:
    model = models.room_model()
    segments = []
    videos = []
    for index, (entry, shots) in enumerate(zip(video_frames["videos"], shot_boundaries["videos"], strict=True)):
        decoded = DecodedVideo.from_dict(entry["decoded"])
        started = time.perf_counter()
        outputs: list[tuple[np.ndarray, np.ndarray]] = []

        def classify(batch: list, decoded: DecodedVideo = decoded, outputs: list = outputs) -> np.ndarray:
            probs, embeddings = model.classify([decoded.sampled_image(s) for s in batch])
            outputs.append((probs, embeddings))
            return probs

        probs = run_batched(list(decoded.sampled), models.batch_size, classify)
        embeddings = np.concatenate([e for _, e in outputs])[-len(probs):]
        embeddings_path = store.work_dir(context.partition_key, "rooms") / f"{index:02d}-embeddings.npy"
        np.save(embeddings_path, embeddings.astype(np.float16))
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
        videos.append({"name": entry["name"], "embeddings": str(embeddings_path),
                       "sample_probs": np.round(probs, 4).tolist()})
        context.log.info(f"{entry['name']}: {len(video_segments)} segments from {len(probs)} frames "
                         f"({len(probs) / (time.perf_counter() - started):.1f} frames/s)")
    rows = [{"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
             "room": s["room"], "confidence": s["confidence"],
             "top3": ", ".join(f"{r} {p:.2f}" for r, p in s["top3"])} for s in segments]
    url = publish_table(store, context.partition_key, "rooms", rows)
    backend = model.backend
    counts = {room: sum(1 for s in segments if s["room"] == room) for room in ROOM_TYPES}
    return MaterializeResult(
        value={"backend": backend.version_tag, "rooms": list(ROOM_TYPES), "segments": segments,
               "videos": videos},
        metadata={
            "segment_count": len(segments),
            "rooms_found": ", ".join(f"{r}: {n}" for r, n in counts.items() if n) or "(none)",
            **provenance(backend, model.device),
            "table_url": MetadataValue.url(url),
            "segments": markdown_table(rows),
        },
    )
