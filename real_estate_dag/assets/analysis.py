"""The analysis pass: video_frames, shot_boundaries, room_labels and quality_scores in one step.

While a video decodes, its 48x27 frames stream into the shot model and its sampled frames into the
room and quality models, on worker threads; on 2 CPU cores that overlap is what brings the analysis
close to decode + shot inference alone (see the README's performance section). The four assets keep
their own code versions, metadata and values, and any subset can be rematerialised: the selected
models then read the stored frames instead of decoding again.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from dagster import AssetExecutionContext, AssetIn, AssetKey, Config, Failure, MaterializeResult, multi_asset
from PIL import Image

from real_estate_dag.assets.common import STORAGE_RETRY, bad_input, decoded_video, property_partitions
from real_estate_dag.assets.frames import FRAMES, frames_result, video_dir_name
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.assets.quality import QUALITY, quality_result
from real_estate_dag.assets.rooms import ROOMS, rooms_result
from real_estate_dag.assets.shots import SHOTS, shots_result
from real_estate_dag.gpu_resources.backends import IqaModel, RoomModel, ShotModel
from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.device import thread_plan, torch_threads
from real_estate_dag.gpu_resources.k8s import GPU_OP_TAGS
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops import quality
from real_estate_dag.ops.decode import DecodedVideo, decode_video
from real_estate_dag.ops.probe import MediaError
from real_estate_dag.ops.progress import Progress, counted
from real_estate_dag.ops.rooms import ROOM_TYPES
from real_estate_dag.ops.workers import Workers
from real_estate_dag.resources.io_manager import read_value, value_key
from real_estate_dag.resources.store import Store, work_prefix


class AnalysisConfig(Config):
    sample_fps: float = 2.0
    sample_short_side: int = 224
    # wall-clock decode budget per video: this many seconds per second of footage, at least a minute
    decode_budget_factor: float = 5.0
    shot_threshold: float = 0.5
    min_segment_s: float = 2.0
    smoothing_window: int = 3


@dataclass
class Models:
    """The models of the selected assets. The sampled-frame models load on their worker thread, so
    their loading overlaps the start of decoding and shot inference."""

    registry: ModelRegistry
    device: str
    shots: ShotModel | None
    want_rooms: bool
    want_quality: bool
    rooms: RoomModel | None = None
    quality: IqaModel | None = None

    @property
    def batch_size(self) -> int:
        return self.registry.batch_size

    @property
    def want_samples(self) -> bool:
        return self.want_rooms or self.want_quality

    def load_sample_models(self) -> None:
        if self.want_rooms and self.rooms is None:
            self.rooms = self.registry.room_model()
        if self.want_quality and self.quality is None:
            self.quality = self.registry.quality_model()

    def score_samples(self, files: list[Path]) -> dict[str, np.ndarray]:
        """Room probabilities and embeddings, and the quality measures, of a batch of sampled frames."""
        images = [Image.open(f).convert("RGB") for f in files]
        out: dict[str, np.ndarray] = {}
        if self.rooms is not None:
            rooms = self.rooms
            both = run_batched(images, len(images), lambda batch: np.concatenate(rooms.classify(batch), axis=1))
            out["room_probs"], out["embeddings"] = both[:, : len(ROOM_TYPES)], both[:, len(ROOM_TYPES) :]
        if self.quality is not None:
            lumas = [quality.grey(np.asarray(image)) for image in images]
            out["sharpness"] = np.array([quality.sharpness(luma) for luma in lumas])
            out["exposure"] = np.array([quality.exposure(luma) for luma in lumas])
            out["iqa_raw"] = run_batched(images, len(images), self.quality.score)
        return out


@dataclass
class VideoPass:
    """One video after the pass: its decoded streams and what the selected models made of them."""

    entry: dict
    decoded: DecodedVideo
    probs: np.ndarray | None = None
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    decode_s: float = 0.0


class _Consumers:
    """The shot stream and the sampled-frame workers of one video, fed by the decoder or from disk."""

    def __init__(self, models: Models, name: str, log: Callable[[str], None]) -> None:
        self.shots = None if models.shots is None else models.shots.stream()
        self.samples: Workers[list[Path], dict[str, np.ndarray]] | None = None
        if models.want_samples:
            threads = torch_threads(thread_plan(models.device).sample_threads)

            def init() -> None:
                threads()
                models.load_sample_models()

            self.samples = Workers(models.score_samples, threads=1, queue_size=2, init=init)
        self.batch_size = models.batch_size
        self.batch: list[Path] = []
        self.shot_progress = Progress(log, f"{name}: shot model", "frames")
        self.sample_progress = Progress(log, f"{name}: room and quality models", "frames")

    def frame(self, frame: np.ndarray) -> None:
        if self.shots is not None:
            self.shots.add(frame)

    def sample(self, path: Path) -> None:
        if self.samples is not None:
            self.batch.append(path)
            if len(self.batch) == self.batch_size:
                self.samples.submit(self.batch)
                self.batch = []

    def progress(self, frames: int, samples: int) -> None:
        if self.shots is not None:
            self.shot_progress(self.shots.done_frames, frames)
        if self.samples is not None:
            self.sample_progress(min(self.samples.done * self.batch_size, samples), samples)

    def finish(self, result: VideoPass) -> None:
        if self.shots is not None:
            result.probs = self.shots.finish()
            self.shot_progress(result.decoded.frame_count, result.decoded.frame_count)
        if self.samples is not None:
            if self.batch:
                self.samples.submit(self.batch)
            batches = self.samples.close()
            result.samples = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
            count = len(result.decoded.sampled)
            self.sample_progress(count, count)

    def cancel(self) -> None:
        if self.shots is not None:
            self.shots.cancel()
        if self.samples is not None:
            self.samples.cancel()


def decode_pass(context: AssetExecutionContext, config: AnalysisConfig, store: Store, models: Models,
                index: int, video: dict) -> VideoPass:
    """Decode one uploaded video, feeding the selected models as the frames come."""
    facts = video["facts"]
    folder = video_dir_name(index, video["name"])
    out_dir, prefix = store.work_dir(context.partition_key, "frames", folder), work_prefix(
        context.partition_key, "frames", folder)
    consumers = _Consumers(models, video["name"], context.log.info)
    decoding = Progress(context.log.info, f"{video['name']}: decoding", "frames")
    expected_samples = max(1, round(facts["duration_s"] * config.sample_fps))

    def progress(done: int, total: int) -> None:
        decoding(done, total)
        consumers.progress(total, expected_samples)

    started = time.perf_counter()
    try:
        decoded = decode_video(
            store.local_path(video["key"]), video["key"], out_dir,
            rotation=facts["rotation"], sample_fps=config.sample_fps, sample_short_side=config.sample_short_side,
            expected_frames=facts["frame_count_estimate"], progress=progress,
            timeout_s=max(60.0, config.decode_budget_factor * facts["duration_s"]),
            on_frame=consumers.frame, on_sample=consumers.sample,
        )
        decode_s = time.perf_counter() - started
        # downstream steps find the streams by store key: on S3 they may run on another machine
        entry = {"name": video["name"], "key": video["key"], "decoded": {**decoded.to_dict(), "directory": prefix}}
        result = VideoPass(entry, decoded, decode_s=decode_s)
        consumers.finish(result)
    except MediaError as exc:
        consumers.cancel()
        raise bad_input(str(exc), file=video["key"]) from exc
    except BaseException:
        consumers.cancel()
        raise
    store.save_dir(prefix)
    context.log.info(f"{video['name']}: decoded {decoded.frame_count} frames in {decode_s:.1f} s "
                     f"({decoded.frame_count / decode_s:.0f} frames/s), {len(decoded.sampled)} sampled")
    return result


def stored_pass(context: AssetExecutionContext, store: Store, models: Models, entry: dict) -> VideoPass:
    """Run the selected models over a video's stored frames (video_frames is not being rematerialised)."""
    decoded = decoded_video(store, entry)
    consumers = _Consumers(models, entry["name"], context.log.info)
    frames = decoded.shot_stream() if consumers.shots is not None else ()
    samples = len(decoded.sampled)
    result = VideoPass(entry, decoded)
    try:
        for i in range(len(frames)):
            consumers.frame(frames[i])
            if i % 250 == 0:
                consumers.progress(decoded.frame_count, samples)
        for sample in decoded.sampled:
            consumers.sample(Path(decoded.directory) / sample.file)
        consumers.finish(result)
    except BaseException:
        consumers.cancel()
        raise
    return result


def stored_value(store: Store, partition_key: str, asset: str) -> dict:
    if not store.exists(value_key(partition_key, asset)):
        raise Failure(description=f"{asset} has no stored value for {partition_key}; materialise it first "
                      "(or together with the assets selected now)", allow_retries=False)
    return read_value(store, partition_key, asset)


@multi_asset(
    name="video_analysis",
    outs={"video_frames": FRAMES, "shot_boundaries": SHOTS, "room_labels": ROOMS, "quality_scores": QUALITY},
    internal_asset_deps={
        "video_frames": {AssetKey("property_manifest")},
        "shot_boundaries": {FRAMES.key},
        "room_labels": {FRAMES.key, SHOTS.key},
        "quality_scores": {FRAMES.key, SHOTS.key},
    },
    ins={"property_manifest": AssetIn()},
    can_subset=True,
    partitions_def=property_partitions,
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    retry_policy=STORAGE_RETRY,
)
def video_analysis(
    context: AssetExecutionContext,
    config: AnalysisConfig,
    store: Store,
    models: ModelRegistry,
    property_manifest: dict,
):
    verify_inputs(store, property_manifest)
    selected = {key.path[-1] for key in context.selected_asset_keys}
    key = context.partition_key
    loaded = Models(
        registry=models, device=models.resolved_device(),
        shots=models.shot_model() if "shot_boundaries" in selected else None,
        want_rooms="room_labels" in selected, want_quality="quality_scores" in selected,
    )
    started = time.perf_counter()
    if "video_frames" in selected:
        passes = [decode_pass(context, config, store, loaded, index, video)
                  for index, video in enumerate(property_manifest["videos"])]
    else:
        passes = [stored_pass(context, store, loaded, entry)
                  for entry in stored_value(store, key, "video_frames")["videos"]]
    seconds = time.perf_counter() - started
    results: list[tuple[MaterializeResult, str]] = []
    if "video_frames" in selected:
        rows = [{"video": p.entry["name"], "frames": p.decoded.frame_count, "fps": p.decoded.fps,
                 "sampled": len(p.decoded.sampled), "decode_s": round(p.decode_s, 2)} for p in passes]
        results.append(frames_result([p.entry for p in passes], rows,
                                     [(p.entry["name"], p.decoded) for p in passes], seconds))
    shots_videos: list[dict] = []
    if loaded.shots is not None:
        shots = shots_result(store, key, [(p.entry["name"], p.decoded, p.probs) for p in passes],
                             config.shot_threshold, loaded.shots, seconds)
        results.append(shots)
        shots_videos = shots[0].value["videos"]
    elif loaded.want_samples:
        shots_videos = stored_value(store, key, "shot_boundaries")["videos"]
    if loaded.rooms is not None:
        results.append(rooms_result(
            store, key,
            [(p.entry["name"], p.decoded, v["shots"], p.samples["room_probs"], p.samples["embeddings"])
             for p, v in zip(passes, shots_videos, strict=True)],
            loaded.rooms, loaded.device, config.min_segment_s, config.smoothing_window, seconds))
    if loaded.quality is not None:
        results.append(quality_result(
            store, key, [p.entry for p in passes],
            [(p.entry["name"], p.decoded, v["shots"], p.samples) for p, v in zip(passes, shots_videos, strict=True)],
            loaded.quality, loaded.device, seconds))
    context.log.info(f"video_analysis: {counted(len(passes), 'video')}, "
                     f"{', '.join(sorted(selected))} in one overlapped pass of {seconds:.1f} s")
    for result, summary in results:
        context.log.info(summary)
        yield result
