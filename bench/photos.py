"""The photo benchmark: 12 MP photos to a 30 s 1080p showcase, against an ffmpeg-only floor of the same run.

    .venv/bin/python bench/photos.py [--out bench/results/photos-NAME.json]

Photos: frames of the packaged footage (transnetv2's test video), cropped to 4:3, enlarged to 4032x3024
and given film grain (so they compress and decode like camera JPEGs), cached in .data/bench-cache/photos.
It measures, each property in a child process (bench/photo_stages.py):
- 20 photos -> a 30 s showcase: photo_analysis + selected_clips + showcase_video wall seconds;
- the render floor: ffmpeg alone rendering the same edit from the same corrected photos with its own
  ``zoompan`` along the same moves (whole-pixel steps), a black title-length lead-in, the same xfades
  and x264 settings, no audio;
- peak RSS of the 20-photo and of a 100-photo property.
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
from PIL import Image
from run import xfaded_encode

from real_estate_dag.demo import demo_footage
from real_estate_dag.ops.kenburns import plan_move
from real_estate_dag.ops.render import FPS

ROOT = Path(__file__).resolve().parents[1]
SIZE = (4032, 3024)
TARGETS = {
    "photo analysis + render, 20 photos (s)": ("<=", 60.0),
    "render / ffmpeg-only render": ("<=", 1.2),
    "peak RSS 100 photos / 20 photos": ("<=", 1.3),
}
ANALYSIS_STEPS = ("photo_analysis", "selected_clips", "showcase_video")


def make_photos(folder: Path, count: int) -> list[Path]:
    """``count`` 12 MP JPEGs from frames spread over the footage (cached)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo_{i:03d}.jpg" for i in range(count)]
    if all(p.is_file() for p in paths):
        return paths
    with av.open(str(demo_footage())) as container:
        stream = container.streams.video[0]
        total = stream.frames or 5300
        wanted = {round(i * (total - 1) / count): i for i in range(count)}
        rng = np.random.default_rng(0)
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted and not paths[wanted[index]].is_file():
                image = frame.to_image()
                crop = image.crop((20, 0, 140, 90)).resize(SIZE, Image.Resampling.BICUBIC)
                grain = rng.normal(0, 6, (SIZE[1] // 4, SIZE[0] // 4, 1)).repeat(4, 0).repeat(4, 1)
                pixels = np.clip(np.asarray(crop, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(paths[wanted[index]], quality=90)
    return paths


def run_property(photos: Path, count: int, store: Path, target_s: float) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "photo_stages.py"), str(photos), str(count),
                           str(store), str(target_s)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the {count}-photo property failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def zoompan_floor(store: Path, values: Path, out: Path) -> tuple[float, float]:
    """ffmpeg alone: the edit's photo clips with zoompan along the same planned moves, xfaded."""
    edl = json.loads((values / "selected_clips.json").read_text())
    title_s, fade = edl["title_s"], edl["params"]["crossfade_s"]
    args = ["-f", "lavfi", "-i", f"color=c=black:s=1920x1080:r={FPS}:d={title_s:.3f}"]
    graph = ["[0:v]setsar=1,format=yuv420p,settb=AVTB[v0]"]
    lengths = [title_s]
    for i, clip in enumerate(edl["clips"], start=1):
        photo = store / clip["photo_key"]
        with Image.open(photo) as image:
            width, height = image.size
        frames = max(1, round(clip["duration_s"] * FPS))
        move = plan_move((width, height), (1920, 1080), clip["room"], tuple(clip["focus"]), frames)
        a, b, last = move.start, move.end, max(1, frames - 1)
        zoom = f"{width}/({a.width:.4f}*pow({b.width / a.width:.6f},on/{last}))"
        x = f"{a.x:.4f}+({b.x - a.x:.4f})*on/{last}-iw/zoom/2"
        y = f"{a.y:.4f}+({b.y - a.y:.4f})*on/{last}-ih/zoom/2"
        args += ["-i", str(photo)]
        graph.append(f"[{i}:v]zoompan=z='{zoom}':x='{x}':y='{y}':d={frames}:s=1920x1080:fps={FPS},setsar=1,"
                     f"format=yuv420p,settb=AVTB,setpts=PTS-STARTPTS[v{i}]")
        lengths.append(clip["duration_s"])
    return xfaded_encode(args, graph, lengths, fade, out)


def span(steps: dict, name: str) -> float:
    return round(steps[name][1] - steps[name][0], 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--cache", type=Path, default=ROOT / ".data" / "bench-cache")
    parser.add_argument("--target", type=float, default=30.0, help="showcase length in seconds")
    parser.add_argument("--many", type=int, default=100, help="photos of the memory comparison")
    args = parser.parse_args()
    started = time.perf_counter()
    photos = args.cache / "photos"
    make_photos(photos, args.many)
    runs = {}
    for count in (20, args.many):
        store = args.cache / "photo-runs" / f"n{count}"
        subprocess.run(["rm", "-rf", str(store)], check=True)
        runs[count] = run_property(photos, count, store, args.target)
        print(f"{count} photos: {runs[count]['end_to_end_s']:.1f} s end to end, peak RSS "
              f"{runs[count]['peak_rss_mb']:.0f} MB, steps "
              + ", ".join(f"{k} {span(runs[count]['steps'], k):.1f} s" for k in runs[count]["steps"]), flush=True)
    twenty = runs[20]
    floor_s, floor_len = zoompan_floor(args.cache / "photo-runs" / "n20", Path(twenty["values_dir"]),
                                       args.cache / "photo-runs" / "floor.mp4")
    print(f"ffmpeg-only render (zoompan) {floor_s:.1f} s for {floor_len:.1f} s of video", flush=True)
    analysis_render = sum(span(twenty["steps"], k) for k in ANALYSIS_STEPS)
    measured = {
        "photo analysis + render, 20 photos (s)": round(analysis_render, 2),
        "render / ffmpeg-only render": round(span(twenty["steps"], "showcase_video") / floor_s, 3),
        "peak RSS 100 photos / 20 photos": round(runs[args.many]["peak_rss_mb"] / twenty["peak_rss_mb"], 3),
    }
    summary = {name: {"value": value, "target": f"{TARGETS[name][0]} {TARGETS[name][1]}",
                      "met": value <= TARGETS[name][1]} for name, value in measured.items()}
    print("\n| target | measured | goal | met |\n|---|---|---|---|")
    for name, row in summary.items():
        print(f"| {name} | {row['value']} | {row['target']} | {'yes' if row['met'] else 'no'} |")
    report = {"runs": runs, "floor_s": round(floor_s, 3), "floor_output_s": round(floor_len, 3),
              "summary": summary, "bench_wall_s": round(time.perf_counter() - started, 1)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
