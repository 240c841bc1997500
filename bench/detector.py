"""What the object detector costs: the analysis pass on the 5-minute benchmark input with and without it,
measured in one run, and the detector alone on the pass's own sampled frames.

    .venv/bin/python bench/detector.py [--minutes 5] [--out bench/results/NAME.json]

Each pass is ``ops.analysis.decode_pass`` with the models the video_analysis step loads (shots, rooms,
quality; then also the detector), in that order, on the same input; the detector alone runs on the
sampled frames the second pass stored, every ``detector_stride``-th one as in the pipeline.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inputs import prepare_inputs
from PIL import Image

from real_estate_dag.assets.analysis import AnalysisConfig
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.analysis import DecodeSettings, DetectSettings, Models, decode_pass
from real_estate_dag.ops.probe import probe_video

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.25  # analysis with the detector / without it, on the 5-minute input


def timed_pass(models: Models, video: Path, out: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one analysis pass, and how many frames it sampled."""
    shutil.rmtree(out, ignore_errors=True)
    facts = probe_video(video, video.name).to_dict()
    started, cpu = time.perf_counter(), time.process_time()
    result = decode_pass(models, DecodeSettings(), lambda line: None, video, video.name, facts, out)
    return time.perf_counter() - started, time.process_time() - cpu, len(result.decoded.sampled)


def detector_alone(registry: ModelRegistry, frames: Path, settings: DetectSettings) -> tuple[float, float, int]:
    """Wall and CPU seconds of the detector on every stride-th stored sampled frame, in pipeline batches."""
    model = registry.detector_model()
    files = sorted((frames / "sampled").glob("*.jpg"))[:: settings.stride]
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(files), registry.batch_size):
        model.detect([Image.open(f).convert("RGB") for f in files[start : start + registry.batch_size]],
                     settings.confidence)
    return time.perf_counter() - started, time.process_time() - cpu, len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--cache", type=Path, default=ROOT / ".data" / "bench-cache")
    args = parser.parse_args()
    [video] = prepare_inputs(args.cache, [args.minutes])
    registry = ModelRegistry()
    config = AnalysisConfig()
    settings = DetectSettings(config.detector_stride, config.detector_confidence)
    device = registry.resolved_device()
    work = args.cache / "detector-runs"

    def models(detector: bool) -> Models:
        return Models(device=device, batch_size=registry.batch_size, shots=registry.shot_model(),
                      load_rooms=registry.room_model, load_quality=registry.quality_model,
                      load_detector=registry.detector_model if detector else None, detect=settings)

    print(f"== {video.name}: {video.frames} frames, {video.width}x{video.height}", flush=True)
    without = timed_pass(models(False), video.path, work / "without")
    print(f"analysis without the detector: {without[0]:.1f} s ({without[1]:.1f} CPU s)", flush=True)
    with_detector = timed_pass(models(True), video.path, work / "with")
    print(f"analysis with the detector: {with_detector[0]:.1f} s ({with_detector[1]:.1f} CPU s)", flush=True)
    alone = detector_alone(registry, work / "with", settings)
    per_10_min = alone[1] / video.duration_s * 600
    ratio = with_detector[0] / without[0]
    backend = registry.detector_model().backend.version_tag
    report = {
        "input": {"name": video.name, "duration_s": video.duration_s, "frames": video.frames,
                  "size": f"{video.width}x{video.height}"},
        "detector": {"backend": backend, "size_px": registry.detector_size, "stride": settings.stride,
                     "confidence": settings.confidence, "device": device},
        "analysis_without_s": round(without[0], 3), "analysis_without_cpu_s": round(without[1], 3),
        "analysis_with_s": round(with_detector[0], 3), "analysis_with_cpu_s": round(with_detector[1], 3),
        "sampled_frames": with_detector[2], "detected_frames": alone[2],
        "detector_alone_s": round(alone[0], 3), "detector_alone_cpu_s": round(alone[1], 3),
        "detector_cpu_s_per_10_min": round(per_10_min, 2),
        "analysis with / without detector": round(ratio, 3), "target": f"<= {TARGET}", "met": ratio <= TARGET,
    }
    print("\n| input | detector | frames seen | detector alone CPU s | CPU s per 10 min | analysis without | "
          "analysis with | with / without | goal | met |\n|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {video.name} | {backend} {registry.detector_size} px, every {settings.stride}. sample | {alone[2]} | "
          f"{alone[1]:.1f} | {per_10_min:.1f} | {without[0]:.1f} | {with_detector[0]:.1f} | {ratio:.3f} | "
          f"<= {TARGET} | {'yes' if ratio <= TARGET else 'no'} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
