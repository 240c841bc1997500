"""What narration, moderation and privacy cost per minute of footage, against floors measured in the same run.

    .venv/bin/python bench/safety.py [--minutes 1] [--out bench/results/safety-NAME.json]

The input is bench/run.py's 1080p30 walkthrough with a narration espeak-ng speaks over its own sound
(a listing description, repeated to the input's length). It measures
- the audio floor: decoding the sound to 16 kHz mono; then silero-vad and faster-whisper on it (with the
  word error rate against the spoken text);
- the frame floor: decoding every frame and keeping 2 fps at a 224 px short side (as video_frames does);
  then NudeNet on those frames (moderation, and the faces privacy blurs);
- the blur of a 5 s clip at 1080p30 (the detector every 3rd frame), against ffmpeg re-encoding the same
  clip with the same settings.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np
from inputs import prepare_inputs
from run import machine

from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.ffmpeg import ffmpeg_exe
from real_estate_dag.ops.moderation import FACES, scan
from real_estate_dag.ops.privacy import blur_clip
from real_estate_dag.ops.speech import load_audio, word_error_rate

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ("Welcome to this bright family home. The kitchen has granite countertops and a large island. "
          "The living room opens onto a sunny deck. Upstairs there are three bedrooms and two bathrooms. "
          "The house has a new roof and a two car garage. ")
BLUR_S = 5.0


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def narrated(video: Path, seconds: float, cache: Path) -> tuple[Path, str]:
    """``video`` with ``SCRIPT`` spoken over its sound, and the words spoken."""
    out = cache / f"{video.stem}_narrated.mp4"
    speech = cache / "narration.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech), SCRIPT], check=True)
    with av.open(str(speech)) as container:
        once = container.duration / av.time_base
    repeats = max(1, int(seconds // (once + 1.0)))
    if not out.is_file():
        ffmpeg("-i", str(video), "-stream_loop", str(repeats - 1), "-i", str(speech), "-filter_complex",
               "[1:a]aresample=48000,apad[s];[0:a]volume=0.3[m];[m][s]amix=inputs=2:duration=first:normalize=0[a]",
               "-map", "0:v", "-map", "[a]", "-c:v", "copy", "-c:a", "aac", "-t", f"{seconds:g}", str(out))
    return out, " ".join([SCRIPT] * repeats)


def sampled_frames(path: Path, fps: float = 2.0, short_side: int = 224) -> list[tuple[str, float, np.ndarray]]:
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_t = 0.0
        for frame in container.decode(stream):
            if frame.time is None or frame.time + 1e-6 < next_t:
                continue
            next_t += 1 / fps
            scale = short_side / min(frame.width, frame.height)
            image = frame.reformat(round(frame.width * scale), round(frame.height * scale), format="rgb24")
            frames.append((path.name, frame.time, image.to_ndarray()))
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cache", type=Path, default=ROOT / ".data" / "bench-cache")
    args = parser.parse_args()
    [video] = prepare_inputs(args.cache, [args.minutes])
    path, spoken = narrated(video.path, video.duration_s, args.cache)
    minutes = video.duration_s / 60
    registry = ModelRegistry()
    vad, recogniser, detector = registry.vad_model(), registry.recognition_model(), registry.moderation_model()

    started = time.perf_counter()
    audio = load_audio(path)
    audio_floor = time.perf_counter() - started
    started = time.perf_counter()
    spans = vad.speech_spans(audio)
    vad_s = time.perf_counter() - started
    started = time.perf_counter()
    transcript = recogniser.transcribe(audio, spans)
    asr_s = time.perf_counter() - started
    wer = word_error_rate(spoken, transcript.text)

    started = time.perf_counter()
    frames = sampled_frames(path)
    frame_floor = time.perf_counter() - started
    started = time.perf_counter()
    findings = scan(frames, detector.detect, 0.3)
    moderation_s = time.perf_counter() - started

    with av.open(str(path)) as container:
        size = (container.streams.video[0].codec_context.width, container.streams.video[0].codec_context.height)
    at = min(10.0, video.duration_s - BLUR_S)
    started = time.perf_counter()
    report = blur_clip(path, at, BLUR_S, size, args.cache / "blurred.mp4", detector.detect, FACES, 0.3)
    blur_s = time.perf_counter() - started
    started = time.perf_counter()
    ffmpeg("-ss", f"{at}", "-t", f"{BLUR_S}", "-i", str(path), "-vf", "fps=30", "-c:v", "libx264", "-preset",
           "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac", str(args.cache / "reencoded.mp4"))
    reencode_s = time.perf_counter() - started

    result = {
        "machine": machine(), "input": video.name, "duration_s": video.duration_s,
        "speech": {"audio_floor_s": round(audio_floor, 3), "vad_s": round(vad_s, 3), "asr_s": round(asr_s, 3),
                   "speech_s": round(sum(e - s for s, e in spans), 2), "words": len(transcript.words),
                   "wer": round(wer, 3), "backend": recogniser.backend.version_tag, "device": recogniser.device,
                   "per_footage_minute_s": round((vad_s + asr_s) / minutes, 2),
                   "over_audio_floor": round((vad_s + asr_s) / audio_floor, 2)},
        "moderation": {"frames": len(frames), "frame_floor_s": round(frame_floor, 3),
                       "nudenet_s": round(moderation_s, 3), "faces": sum(f.label in FACES for f in findings),
                       "per_footage_minute_s": round(moderation_s / minutes, 2),
                       "per_frame_ms": round(1000 * moderation_s / max(1, len(frames)), 1),
                       "over_frame_floor": round(moderation_s / frame_floor, 2)},
        "blur": {"clip_s": BLUR_S, "seconds": round(blur_s, 3), "reencode_floor_s": round(reencode_s, 3),
                 "over_reencode_floor": round(blur_s / reencode_s, 2), "detected_frames": report.detected_frames,
                 "blurred_frames": report.blurred_frames,
                 "per_clip_second_s": round(blur_s / BLUR_S, 2)},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
