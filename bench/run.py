"""The performance benchmark: the pipeline against floors measured in the same run, on this machine.

    .venv/bin/python bench/run.py [--quick] [--out bench/results/NAME.json]

For each input (1080p30 H.264 walkthroughs of about 1, 5 and 10 minutes; ``--quick``: 1 minute and
a 20 s showcase) it measures
- the decode floor: PyAV decoding every frame (frame threads, no conversion, nothing kept);
- the pipeline: every asset of one partition materialised in a child process (per-step spans, end
  to end wall time, peak RSS of that process);
- the shot floor: the pipeline's shot model alone on the pipeline's own 48x27 frames, held in memory;
- the render floor: ffmpeg alone rendering the edit decision list the pipeline chose (a black
  title-length lead-in and closing-card-length ending, the same trims, scaling and xfades, the same
  x264 settings, no audio), in one filter graph;
- render once, reuse (``bench/reuse.py``): on the same edit with a cold piece cache, the first full
  16:9 render (compared with the render floor), then the unbranded version, the teasers and a price
  change, each timed alone against the full render;
and on the shortest input the package's own ``TransNetV2.predict_frames`` on the same frames, with
how far its cuts are from the pipeline model's.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np
import torch
from inputs import BenchInput, prepare_inputs
from reuse import measure_reuse

from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.decode import SHOT_H, SHOT_W
from real_estate_dag.ops.ffmpeg import ffmpeg_exe
from real_estate_dag.ops.render import FPS
from real_estate_dag.ops.shots import probabilities_to_shots

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS_STEP = "video_analysis"  # video_frames, shot_boundaries, room_labels and quality_scores, overlapped
TARGETS = {
    "analysis / (decode floor + shot floor)": ("<=", 1.15),
    "render / render floor": ("<=", 1.2),
    "unbranded / full render": ("<=", 0.15),
    "teaser / full render": ("<=", 0.15),
    "price change / full render": ("<=", 0.15),
    "5-minute input end-to-end realtime factor": (">=", 1.0),
    "peak RSS 10 min / 1 min": ("<=", 1.3),
    "peak RSS 10 min (MB)": ("<", 3000),
    "shot model speed-up over predict_frames": (">=", 1.3),
}


def decode_floor(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of decoding every frame."""
    started, cpu = time.perf_counter(), time.process_time()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - started, time.process_time() - cpu


def run_pipeline(video: BenchInput, store: Path, target_s: float) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "stages.py"), str(video.path), str(store),
                           str(target_s)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pipeline failed on {video.name}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def shot_stream(store: Path) -> np.ndarray:
    [path] = (store / "work" / "bench-property" / "frames").glob("*/shot_stream.u8")
    return np.fromfile(path, dtype=np.uint8).reshape(-1, SHOT_H, SHOT_W, 3)


def shot_floor(model, frames: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Wall and CPU seconds of the shot model alone, threaded as the pipeline runs it, and its output."""
    started, cpu = time.perf_counter(), time.process_time()
    stream = model.stream()
    for frame in frames:
        stream.add(frame)
    probs = stream.finish()
    return time.perf_counter() - started, time.process_time() - cpu, probs


def package_baseline(model, frames: np.ndarray, ours: np.ndarray) -> dict:
    """TransNetV2.predict_frames (the package's own windowing, one window per call) on the same frames."""
    tensor = torch.from_numpy(frames.copy())
    started = time.perf_counter()
    theirs, _ = model.model.predict_frames(tensor, quiet=True)
    seconds = time.perf_counter() - started
    reference = model.model.predictions_to_scenes(theirs.numpy().reshape(-1)).tolist()
    shots = probabilities_to_shots(ours)
    same_count = len(shots) == len(reference)
    max_shift = int(np.abs(np.array(shots) - np.array(reference)).max()) if same_count else None
    return {"seconds": round(seconds, 3), "frames": len(frames), "shots_package": len(reference),
            "shots_pipeline": len(shots), "max_cut_shift_frames": max_shift,
            "max_probability_difference": round(float(np.abs(theirs.numpy().reshape(-1) - ours).max()), 5)}


def render_floor(video: Path, values: Path, out: Path) -> tuple[float, float]:
    """ffmpeg alone: the chosen clips between a black title-length lead-in and a black closing-card-length
    ending, xfaded, same encoder settings."""
    edl = json.loads((values / "selected_clips.json").read_text())
    title_s, fade = edl["title_s"], edl["params"]["crossfade_s"]
    closing_s = edl["closing_s"]
    args = ["-f", "lavfi", "-i", f"color=c=black:s=1920x1080:r={FPS}:d={title_s:.3f}"]
    graph = ["[0:v]setsar=1,format=yuv420p,settb=AVTB[v0]"]
    lengths = [title_s]
    for i, clip in enumerate(edl["clips"], start=1):
        args += ["-ss", f"{clip['in_s']:.4f}", "-t", f"{clip['duration_s']:.4f}", "-i", str(video)]
        graph.append(f"[{i}:v]scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,setsar=1,"
                     f"fps={FPS},format=yuv420p,settb=AVTB,setpts=PTS-STARTPTS[v{i}]")
        lengths.append(clip["duration_s"])
    if closing_s > 0:
        closing = len(lengths)
        args += ["-f", "lavfi", "-i", f"color=c=black:s=1920x1080:r={FPS}:d={closing_s:.3f}"]
        graph.append(f"[{closing}:v]setsar=1,format=yuv420p,settb=AVTB[v{closing}]")
        lengths.append(closing_s)
    return xfaded_encode(args, graph, lengths, fade, out)


def xfaded_encode(args: list[str], graph: list[str], lengths: list[float], fade: float, out: Path
                  ) -> tuple[float, float]:
    """Encode the inputs' ``[v0]``, ``[v1]``, ... (of ``lengths`` seconds) joined by ``fade`` s xfades with the
    renderer's x264 settings; the seconds it took and the video's length."""
    previous, elapsed = "v0", lengths[0]
    for i in range(1, len(lengths)):
        offset = elapsed - fade
        graph.append(f"[{previous}][v{i}]xfade=transition=fade:duration={fade:.3f}:offset={offset:.4f}[x{i}]")
        previous, elapsed = f"x{i}", offset + lengths[i]
    args += ["-filter_complex", ";".join(graph), "-map", f"[{previous}]", "-c:v", "libx264", "-preset", "veryfast",
             "-crf", "20", "-pix_fmt", "yuv420p", "-r", str(FPS), "-t", f"{elapsed:.4f}", str(out)]
    started = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
    return time.perf_counter() - started, elapsed


def measure(video: BenchInput, work: Path, target_s: float, model, baseline: bool) -> dict:
    print(f"\n== {video.name}: {video.frames} frames, {video.bitrate_kbps} kb/s", flush=True)
    store = work / video.path.stem
    shutil.rmtree(store, ignore_errors=True)
    decode_s, decode_cpu = decode_floor(video.path)
    print(f"decode floor {decode_s:.1f} s", flush=True)
    pipeline = run_pipeline(video, store, target_s)
    steps = pipeline["steps"]
    print(f"pipeline {pipeline['end_to_end_s']:.1f} s, peak RSS {pipeline['peak_rss_mb']:.0f} MB", flush=True)
    render_s, render_len = render_floor(store / "uploads" / "bench-property" / "walkthrough.mp4",
                                        Path(pipeline["values_dir"]), work / f"{video.path.stem}_floor.mp4")
    print(f"render floor {render_s:.1f} s", flush=True)
    reuse = measure_reuse(Path(pipeline["values_dir"]), store, work / f"{video.path.stem}_reuse") if baseline else None
    if reuse:
        print(f"full render {reuse['full_s']:.1f} s; " + ", ".join(f"{k} {v}" for k, v in reuse["ratios"].items()),
              flush=True)
    frames = shot_stream(store)
    shot_s, shot_cpu, probs = shot_floor(model, frames)
    print(f"shot floor {shot_s:.1f} s", flush=True)
    result = {
        "input": {**{k: v for k, v in vars(video).items() if k != "path"}, "path": str(video.path)},
        "floors_s": {"decode": round(decode_s, 3), "shots": round(shot_s, 3), "render": round(render_s, 3)},
        "floors_cpu_s": {"decode": round(decode_cpu, 3), "shots": round(shot_cpu, 3)},
        "render_floor_output_s": round(render_len, 3),
        "pipeline": pipeline,
        "steps_s": {k: round(v[1] - v[0], 3) for k, v in steps.items()},
        "analysis_s": round(steps[ANALYSIS_STEP][1] - steps[ANALYSIS_STEP][0], 3),
        "showcase_step_s": round(steps["showcase_video"][1] - steps["showcase_video"][0], 3),
        # the first full 16:9 render from a cold cache where measured, else the whole step
        "render_s": reuse["full_s"] if reuse else round(steps["showcase_video"][1] - steps["showcase_video"][0], 3),
    }
    if reuse:
        result["render_reuse"] = reuse
    result["ratios"] = {
        "analysis / (decode floor + shot floor)": round(result["analysis_s"] / (decode_s + shot_s), 3),
        "render / render floor": round(result["render_s"] / render_s, 3),
        "end-to-end realtime factor": round(video.duration_s / pipeline["end_to_end_s"], 3),
        "decode floor frames/s": round(video.frames / decode_s, 1),
        "shot floor frames/s": round(len(frames) / shot_s, 1),
        # how much of the machine the floors already use: 1.0 means every core busy throughout
        "floors core use": round((decode_cpu + shot_cpu) / (decode_s + shot_s) / (os.cpu_count() or 1), 3),
    }
    if baseline:
        base = package_baseline(model, frames, probs)
        base["speed_up"] = round(base["seconds"] / shot_s, 3)
        result["package_shot_baseline"] = base
        print(f"package predict_frames {base['seconds']:.1f} s: x{base['speed_up']:.2f}, "
              f"cuts {base['shots_pipeline']} vs {base['shots_package']}, max shift {base['max_cut_shift_frames']}",
              flush=True)
    return result


def summarise(results: list[dict]) -> dict:
    by_minutes = {round(r["input"]["duration_s"] / 60): r for r in results}
    summary: dict[str, float | None] = {
        "analysis / (decode floor + shot floor)": max(r["ratios"]["analysis / (decode floor + shot floor)"]
                                                      for r in results),
        "render / render floor": max(r["ratios"]["render / render floor"] for r in results),
        "5-minute input end-to-end realtime factor":
            by_minutes[5]["ratios"]["end-to-end realtime factor"] if 5 in by_minutes else None,
        "peak RSS 10 min / 1 min": round(by_minutes[10]["pipeline"]["peak_rss_mb"]
                                         / by_minutes[1]["pipeline"]["peak_rss_mb"], 3)
        if 10 in by_minutes and 1 in by_minutes else None,
        "peak RSS 10 min (MB)": by_minutes[10]["pipeline"]["peak_rss_mb"] if 10 in by_minutes else None,
        "shot model speed-up over predict_frames": next(
            (r["package_shot_baseline"]["speed_up"] for r in results if "package_shot_baseline" in r), None),
        **{name: next((r["render_reuse"]["ratios"][name] for r in results if "render_reuse" in r), None)
           for name in ("unbranded / full render", "teaser / full render", "price change / full render")},
    }
    return {name: {"value": value, "target": f"{TARGETS[name][0]} {TARGETS[name][1]}",
                   "met": None if value is None else _meets(value, *TARGETS[name])}
            for name, value in summary.items()}


def _meets(value: float, op: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]


def print_table(results: list[dict], summary: dict) -> None:
    columns = ["input", "frames", "decode floor", "shot floor", "floors core use", "analysis", "analysis ratio",
               "showcase_video", "render", "render floor", "render ratio", "end to end", "realtime x", "peak RSS MB"]
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for r in results:
        f, q = r["floors_s"], r["ratios"]
        cells = [r["input"]["name"], r["input"]["frames"], f["decode"], f["shots"], q["floors core use"],
                 r["analysis_s"], q["analysis / (decode floor + shot floor)"], r["showcase_step_s"], r["render_s"],
                 f["render"],
                 q["render / render floor"],
                 r["pipeline"]["end_to_end_s"], q["end-to-end realtime factor"], r["pipeline"]["peak_rss_mb"]]
        print("| " + " | ".join(f"{c:.1f}" if isinstance(c, float) else str(c) for c in cells) + " |")
    print("\n(seconds; analysis is the video_analysis step: decoding, shots, rooms and quality in one pass; "
          "showcase_video: the whole step (every render, previews, publishing); render: the first full 16:9 render "
          "from a cold piece cache on the shortest input, else the step; "
          "floors core use: CPU seconds of both floors over their wall seconds times the cores)\n")
    for r in results:
        for row in r.get("render_reuse", {}).get("renders", []):
            print(f"  {r['input']['name']}: {row['file']}: {row['seconds']:.2f} s, {row['encoded']} pieces encoded, "
                  f"{row['reused']} reused")
    print("| target | measured | goal | met |\n|---|---|---|---|")
    for name, row in summary.items():
        met = "n/a" if row["met"] is None else ("yes" if row["met"] else "no")
        print(f"| {name} | {row['value']} | {row['target']} | {met} |")


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version(), "torch": torch.__version__, "av": av.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the 1-minute input and a 20 s showcase")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--cache", type=Path, default=ROOT / ".data" / "bench-cache",
                        help="where encoded inputs are kept between runs")
    parser.add_argument("--minutes", type=float, nargs="+", help="input lengths (default 1 5 10)")
    parser.add_argument("--target", type=float, help="showcase length in seconds (default 60)")
    args = parser.parse_args()
    minutes = args.minutes or ([1] if args.quick else [1, 5, 10])
    target_s = args.target or (20 if args.quick else 60)
    started = time.perf_counter()
    inputs = prepare_inputs(args.cache, minutes)
    work = args.cache / "runs"
    work.mkdir(parents=True, exist_ok=True)
    model = ModelRegistry().shot_model()
    shortest = min(inputs, key=lambda i: i.duration_s)
    results = [measure(video, work, target_s, model, baseline=video is shortest) for video in inputs]
    summary = summarise(results)
    print_table(results, summary)
    report = {"machine": machine(), "quick": args.quick, "showcase_target_s": target_s,
              "shot_backend": model.backend.version_tag, "shot_precision": model.precision, "device": model.device,
              "results": results, "summary": summary, "bench_wall_s": round(time.perf_counter() - started, 1)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
