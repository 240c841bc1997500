"""Decode a video once into the two compact streams every analysis step reads.

- the *shot stream*: every frame at 48x27 RGB (TransNetV2's input), written as raw uint8 to disk;
- *sampled frames*: a few frames per second with the short side at ``sample_short_side`` pixels,
  written as JPEG files, for room labels and quality; black bars burned into the source are found
  on them (``ops.bars``), and the picture's box inside them is kept for the render.

Frames are streamed to disk as they are decoded, so memory stays flat in the length of the video.
Frame indices count decoded frames from 0; times are presentation times in seconds.
"""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from real_estate_dag.ops.bars import BarProfile, PictureBox
from real_estate_dag.ops.probe import MediaError
from real_estate_dag.ops.timecode import pts_to_seconds

SHOT_W, SHOT_H = 48, 27
TIMES_FILE = "times.npy"
ProgressFn = Callable[[int, int], None]


class DecodeTimeoutError(TimeoutError):
    """Decoding ran past its wall-clock budget (a stalled or overloaded worker; worth a retry)."""


@dataclass(frozen=True)
class SampledFrame:
    index: int
    time_s: float
    file: str


@dataclass(frozen=True)
class DecodedVideo:
    """Where one video's decoded streams live; ``directory`` holds every file named here."""

    directory: str
    frame_count: int
    fps: float
    sampled: tuple[SampledFrame, ...]
    picture: PictureBox  # the source frame inside any black bars

    @property
    def shot_stream_path(self) -> Path:
        return Path(self.directory) / "shot_stream.u8"

    @property
    def times_path(self) -> Path:
        return Path(self.directory) / TIMES_FILE

    def shot_stream(self) -> np.ndarray:
        """The 48x27 frames as a read-only memory map of shape (frames, 27, 48, 3)."""
        return np.memmap(
            self.shot_stream_path, dtype=np.uint8, mode="r", shape=(self.frame_count, SHOT_H, SHOT_W, 3)
        )

    def times(self) -> np.ndarray:
        return np.load(self.times_path)

    def sampled_image(self, sample: SampledFrame) -> Image.Image:
        return Image.open(Path(self.directory) / sample.file).convert("RGB")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DecodedVideo":
        return cls(
            directory=data["directory"],
            frame_count=data["frame_count"],
            fps=data["fps"],
            sampled=tuple(SampledFrame(**s) for s in data["sampled"]),
            picture=PictureBox(**data["picture"]),
        )


def decode_video(
    path: Path,
    name: str,
    out_dir: Path,
    *,
    rotation: int = 0,
    sample_fps: float = 2.0,
    sample_short_side: int = 224,
    expected_frames: int = 0,
    progress: ProgressFn | None = None,
    timeout_s: float | None = None,
    on_frame: Callable[[np.ndarray], None] | None = None,
    on_sample: Callable[[Path], None] | None = None,
) -> DecodedVideo:
    """Decode ``path`` once, writing the shot stream and sampled frames under ``out_dir``.

    Frames are placed by their presentation times, so variable-frame-rate video samples correctly.
    ``on_frame`` gets each 48x27 frame and ``on_sample`` each sampled JPEG as soon as it is written,
    so consumers can run while decoding goes on.
    """
    deadline = time.monotonic() + timeout_s if timeout_s else None
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sampled").mkdir(exist_ok=True)
    quarter_turns = (rotation // 90) % 4
    shot_size = (SHOT_H, SHOT_W) if quarter_turns % 2 else (SHOT_W, SHOT_H)
    times: list[float] = []
    sampled: list[SampledFrame] = []
    next_sample_t = 0.0
    fps = 0.0
    bars = BarProfile()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(f"{name}: cannot be opened for decoding ({exc.strerror or exc})") from exc
    with container, open(out_dir / "shot_stream.u8", "wb") as shot_file:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        width, height = stream.codec_context.width, stream.codec_context.height
        sample_size = _sample_size(width, height, sample_short_side)
        shown = (height, width) if quarter_turns % 2 else (width, height)
        # One scaler per output size for the whole video (a frame's own to_ndarray builds a new one each
        # time); single-threaded because the decoder's threads already have the cores.
        to_shot, to_sample = VideoReformatter(), VideoReformatter()
        try:
            for frame in container.decode(stream):
                index = len(times)
                guessed = index / fps if fps else 0.0
                t = guessed if frame.pts is None else pts_to_seconds(frame.pts, frame.time_base)
                times.append(t)
                small = to_shot.reformat(frame, width=shot_size[0], height=shot_size[1], format="rgb24",
                                         threads=1).to_ndarray()
                small = np.ascontiguousarray(np.rot90(small, -quarter_turns))
                shot_file.write(small.tobytes())
                if on_frame:
                    on_frame(small)
                if t + 1e-6 >= next_sample_t:
                    image = to_sample.reformat(frame, width=sample_size[0], height=sample_size[1], format="rgb24",
                                               threads=1).to_ndarray()
                    file = f"sampled/{index:07d}.jpg"
                    image = np.rot90(image, -quarter_turns)
                    Image.fromarray(image).save(out_dir / file, quality=90)
                    bars.add(image)
                    sampled.append(SampledFrame(index=index, time_s=round(t, 4), file=file))
                    if on_sample:
                        on_sample(out_dir / file)
                    next_sample_t = (t // (1.0 / sample_fps) + 1) / sample_fps
                if progress and index % 250 == 0:
                    progress(index, expected_frames)
                if deadline and time.monotonic() > deadline:
                    raise DecodeTimeoutError(f"{name}: decoding did not finish within {timeout_s:.0f} s "
                                             f"({index + 1} frames done)")
        except av.error.FFmpegError as exc:
            if not times:
                raise MediaError(f"{name}: no frame could be decoded ({exc.strerror or exc})") from exc
            raise MediaError(
                f"{name}: decoding failed after {len(times)} frames ({exc.strerror or exc}); "
                "the file is probably truncated or corrupt"
            ) from exc
    if len(times) < 2:
        raise MediaError(f"{name}: has {len(times)} decodable frame(s); at least 2 are needed")
    if not fps:
        fps = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    start = times[0]
    np.save(out_dir / TIMES_FILE, np.asarray(times, dtype=np.float64) - start)
    sampled = [SampledFrame(s.index, round(s.time_s - start, 4), s.file) for s in sampled]
    decoded = DecodedVideo(str(out_dir), len(times), round(fps, 4), tuple(sampled), bars.picture(*shown))
    (out_dir / "decoded.json").write_text(json.dumps(decoded.to_dict()))
    if progress:
        progress(len(times), len(times))
    return decoded


def _sample_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side at ``short_side`` pixels, both even."""
    scale = short_side / min(width, height)
    w, h = round(width * scale / 2) * 2, round(height * scale / 2) * 2
    return w, h
