"""One photo-only property through the asset graph, in its own process so that its peak RSS is its own.

Run by ``bench/photos.py`` as ``python bench/photo_stages.py PHOTOS_DIR COUNT STORE_ROOT TARGET_S``: the
first COUNT photos of PHOTOS_DIR become uploads/<key>/photos/ (hard links); prints one JSON line with each
step's [start, end] seconds, the end-to-end wall time and the process's peak RSS (ffmpeg renders run as
child processes and are not included).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages import materialize_property

PARTITION = "bench-photos"


def write_upload(root: Path, photos: list[Path], target_s: float) -> None:
    folder = root / "uploads" / PARTITION / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        link = folder / photo.name
        if not link.exists():
            link.hardlink_to(photo)
    manifest = {"property_id": PARTITION, "listing": {"address": "1 Benchmark Way", "price": 500000},
                # the showcase alone, as the ffmpeg-only floor renders it (the variants: bench/reuse.py)
                "options": {"target_duration_s": target_s, "aspects": ["16:9"], "unbranded": False, "teaser": False}}
    (folder.parent / "manifest.json").write_text(json.dumps(manifest))


def main(photos_dir: Path, count: int, root: Path, target_s: float) -> dict:
    write_upload(root, sorted(photos_dir.glob("*.jpg"))[:count], target_s)
    return {"photos": count, **materialize_property(root, PARTITION)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))))
