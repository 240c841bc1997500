"""The analysis pass: each video decoded once while the selected models consume its frames.

While a video decodes, its 48x27 frames stream into the shot model and its sampled frames into the
room, quality and object detector models, on worker threads; on 2 CPU cores that overlap is what brings the analysis
close to decode + shot inference alone (see the README's performance section). When the frames are
already stored, ``stored_pass`` feeds the same models from disk instead.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from real_estate_dag.gpu_resources.backends import IqaModel, RoomModel, ShotModel
from real_estate_dag.gpu_resources.batching import run_batched
from real_estate_dag.gpu_resources.detector import DetectorModel, no_detections
from real_estate_dag.gpu_resources.device import thread_plan, torch_threads
from real_estate_dag.ops import quality
from real_estate_dag.ops.decode import DecodedVideo, decode_video
from real_estate_dag.ops.progress import Progress
from real_estate_dag.ops.rooms import ROOM_TYPES
from real_estate_dag.ops.workers import Workers

Log = Callable[[str], None]


@dataclass(frozen=True)
class DecodeSettings:
    sample_fps: float = 2.0
    sample_short_side: int = 224
    # wall-clock decode budget per video: this many seconds per second of footage, at least a minute
    decode_budget_factor: float = 5.0


@dataclass(frozen=True)
class DetectSettings:
    stride: int = 2  # the detector sees every stride-th sampled frame
    confidence: float = 0.2  # detections below this confidence are dropped

    def __post_init__(self) -> None:
        if self.stride < 1 or not 0 < self.confidence < 1:
            raise ValueError(f"detector stride {self.stride} must be at least 1 and confidence {self.confidence} "
                             "between 0 and 1")


@dataclass(frozen=True)
class SampleBatch:
    start: int  # index of the first of these sampled frames in the video
    files: list[Path]


@dataclass
class Models:
    """The models of the selected assets. The sampled-frame models load on their worker thread, so
    their loading overlaps the start of decoding and shot inference."""

    device: str
    batch_size: int
    shots: ShotModel | None = None
    load_rooms: Callable[[], RoomModel] | None = None
    load_quality: Callable[[], IqaModel] | None = None
    load_detector: Callable[[], DetectorModel] | None = None
    detect: DetectSettings = DetectSettings()
    rooms: RoomModel | None = None
    quality: IqaModel | None = None
    detector: DetectorModel | None = None

    @property
    def want_samples(self) -> bool:
        return any(load is not None for load in (self.load_rooms, self.load_quality, self.load_detector))

    def load_sample_models(self) -> None:
        if self.load_rooms is not None and self.rooms is None:
            self.rooms = self.load_rooms()
        if self.load_quality is not None and self.quality is None:
            self.quality = self.load_quality()
        if self.load_detector is not None and self.detector is None:
            self.detector = self.load_detector()

    def score_samples(self, batch: SampleBatch) -> dict[str, np.ndarray]:
        """Room probabilities and embeddings, the quality measures and the detected objects (rows of
        ``detector.COLUMNS``, indexed by sampled frame in the video) of a batch of sampled frames."""
        images = [Image.open(f).convert("RGB") for f in batch.files]
        out: dict[str, np.ndarray] = {}
        if self.detector is not None:
            picked = [i for i in range(len(images)) if (batch.start + i) % self.detect.stride == 0]
            found = self.detector.detect([images[i] for i in picked], self.detect.confidence) if picked \
                else no_detections()
            found[:, 0] = np.asarray(picked, dtype=np.float32)[found[:, 0].astype(np.int64)] + batch.start
            out["detections"] = found
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
    """One video after the pass: its decoded streams (in a local folder) and what the selected models
    made of them: shot transition probabilities, and per sampled frame the arrays of ``score_samples``."""

    name: str
    decoded: DecodedVideo
    probs: np.ndarray | None = None
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    decode_s: float = 0.0


def video_dir_name(index: int, name: str) -> str:
    """The folder of the ``index``-th video's decoded streams: safe in any store, in upload order."""
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


class _Consumers:
    """The shot stream and the sampled-frame workers of one video, fed by the decoder or from disk."""

    def __init__(self, models: Models, name: str, log: Log) -> None:
        self.shots = None if models.shots is None else models.shots.stream()
        self.samples: Workers[SampleBatch, dict[str, np.ndarray]] | None = None
        if models.want_samples:
            threads = torch_threads(thread_plan(models.device).sample_threads)

            def init() -> None:
                threads()
                models.load_sample_models()

            self.samples = Workers(models.score_samples, threads=1, queue_size=2, init=init)
        self.batch_size = models.batch_size
        self.batch: list[Path] = []
        self.batch_start = 0
        self.shot_progress = Progress(log, f"{name}: shot model", "frames")
        self.sample_progress = Progress(log, f"{name}: room and quality models", "frames")

    def frame(self, frame: np.ndarray) -> None:
        if self.shots is not None:
            self.shots.add(frame)

    def sample(self, path: Path) -> None:
        if self.samples is not None:
            self.batch.append(path)
            if len(self.batch) == self.batch_size:
                self.submit()

    def submit(self) -> None:
        assert self.samples is not None
        self.samples.submit(SampleBatch(self.batch_start, self.batch))
        self.batch_start += len(self.batch)
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
                self.submit()
            batches = self.samples.close()
            result.samples = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
            count = len(result.decoded.sampled)
            self.sample_progress(count, count)

    def cancel(self) -> None:
        if self.shots is not None:
            self.shots.cancel()
        if self.samples is not None:
            self.samples.cancel()


def decode_pass(models: Models, settings: DecodeSettings, log: Log, path: Path, name: str,
                facts: dict[str, Any], out_dir: Path) -> VideoPass:
    """Decode the video at ``path`` into ``out_dir``, feeding the selected models as the frames come.

    ``facts`` are the manifest's probed facts (``duration_s``, ``rotation``, ``frame_count_estimate``).
    A file that cannot be decoded raises ``probe.MediaError`` naming ``name``; a decode past its
    budget raises ``decode.DecodeTimeoutError``.
    """
    consumers = _Consumers(models, name, log)
    decoding = Progress(log, f"{name}: decoding", "frames")
    expected_samples = max(1, round(facts["duration_s"] * settings.sample_fps))

    def progress(done: int, total: int) -> None:
        decoding(done, total)
        consumers.progress(total, expected_samples)

    started = time.perf_counter()
    try:
        decoded = decode_video(
            path, name, out_dir,
            rotation=facts["rotation"], sample_fps=settings.sample_fps, sample_short_side=settings.sample_short_side,
            expected_frames=facts["frame_count_estimate"], progress=progress,
            timeout_s=max(60.0, settings.decode_budget_factor * facts["duration_s"]),
            on_frame=consumers.frame, on_sample=consumers.sample,
        )
        result = VideoPass(name, decoded, decode_s=time.perf_counter() - started)
        consumers.finish(result)
    except BaseException:
        consumers.cancel()
        raise
    log(f"{name}: decoded {decoded.frame_count} frames in {result.decode_s:.1f} s "
        f"({decoded.frame_count / result.decode_s:.0f} frames/s), {len(decoded.sampled)} sampled")
    return result


def stored_pass(models: Models, log: Log, name: str, decoded: DecodedVideo) -> VideoPass:
    """Run the selected models over a video's stored frames (``decoded.directory`` is local)."""
    consumers = _Consumers(models, name, log)
    frames = decoded.shot_stream() if consumers.shots is not None else ()
    samples = len(decoded.sampled)
    result = VideoPass(name, decoded)
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
