from pathlib import Path

import av
import numpy as np
import pytest
from media_helpers import ffmpeg

from real_estate_dag.ops.bars import PictureBox
from real_estate_dag.ops.decode import decode_video
from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.render import RenderClip, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card

SIZE = (640, 360)  # the smallest frame whose blurred backdrop ffmpeg's boxblur takes


def shot(source: Path, out: Path, pad: str = "") -> Path:
    """4 s of one continuous shot of the footage (frames 460-560), with black bars added by ``pad``."""
    ffmpeg("-ss", "18.4", "-t", "4", "-i", str(source), *(["-vf", f"pad={pad}:black"] if pad else []),
           "-c:v", "libx264", "-preset", "veryfast", "-an", str(out))
    return out


def middle_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)]
    return frames[len(frames) * 3 // 4]  # inside the clip, after the title card and its crossfade


def render(clip: RenderClip, tmp_path: Path, name: str) -> np.ndarray:
    title = draw_title_card(Listing(address="1 Elm"), "p", SIZE, tmp_path / f"{name}.png")
    out = render_showcase([clip], title, tmp_path / f"{name}.mp4", SIZE, title_s=0.5, crossfade_s=0.25)
    return middle_frame(out.path)


def edge_luma(frame: np.ndarray) -> list[float]:
    """The median luma of the outer 12 pixels of each side (top, bottom, left, right) around its
    middle: 0 where a bar shows."""
    h, w = frame.shape
    across, down = slice(w // 3, 2 * w // 3), slice(h // 3, 2 * h // 3)
    strips = [frame[:12, across], frame[-12:, across], frame[down, :12], frame[down, -12:]]
    return [float(np.median(strip)) for strip in strips]


# The packaged footage is 4:3 pillarboxed into 160x90: its picture is columns 22-137 (column 22 half lit).
@pytest.mark.parametrize(("pad", "inside"), [
    ("", PictureBox(22, 0, 116, 90)),
    ("160:120:0:15", PictureBox(22, 15, 116, 90)),  # letterboxed as well
    ("200:90:20:0", PictureBox(42, 0, 116, 90)),  # wider pillars
])
def test_bars_are_found_and_the_render_frames_the_picture_inside_them(
    source_video: Path, tmp_path: Path, pad: str, inside: PictureBox
) -> None:
    clip = shot(source_video, tmp_path / "barred.mp4", pad)
    width, height = (int(v) for v in pad.split(":")[:2]) if pad else (160, 90)
    box = decode_video(clip, "barred.mp4", tmp_path / "d").picture
    # the box lies inside the picture and gives up at most 2 px per side to the blended edge
    assert inside.x <= box.x <= inside.x + 2 and inside.y <= box.y <= inside.y + 2, box
    assert inside.x + inside.width - 2 <= box.x + box.width <= inside.x + inside.width, box
    assert inside.y + inside.height - 2 <= box.y + box.height <= inside.y + inside.height, box

    crop = (box.x, box.y, box.width, box.height)
    framed = render(RenderClip(clip, 0.5, 3.0, False, box.width / box.height, crop), tmp_path, "framed")
    uncropped = render(RenderClip(clip, 0.5, 3.0, False, width / height), tmp_path, "uncropped")
    print(f"edge luma (top, bottom, left, right): framed {edge_luma(framed)}, uncropped {edge_luma(uncropped)}")
    assert min(edge_luma(uncropped)) < 8  # without the crop the bars show
    assert min(edge_luma(framed)) > 30


def test_a_picture_without_bars_keeps_its_whole_frame(source_video: Path, tmp_path: Path) -> None:
    """The footage with its pillars cut off, stretched to a phone's 478x850 portrait frame."""
    clip = tmp_path / "portrait.mp4"
    ffmpeg("-ss", "18.4", "-t", "4", "-i", str(source_video), "-vf", "crop=112:90:24:0,scale=478:850,setsar=1",
           "-c:v", "libx264", "-preset", "veryfast", "-an", str(clip))
    assert decode_video(clip, "portrait.mp4", tmp_path / "d").picture == PictureBox(0, 0, 478, 850)
