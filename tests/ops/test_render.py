from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from real_estate_dag.ops.manifest import Agent, Listing
from real_estate_dag.ops.render import RenderClip, inspect_video, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card, listing_lines


def audio_rms(path: Path, start: float, end: float) -> float:
    with av.open(str(path)) as container:
        samples = [f.to_ndarray() for f in container.decode(audio=0) if start <= f.time < end]
    return float(np.sqrt(np.mean(np.concatenate(samples, axis=1) ** 2)))


def test_title_lines_use_only_given_facts() -> None:
    headline, lines = listing_lines(Listing(address="1 Elm", price=500000, bedrooms=2), "p")
    assert headline == "1 Elm" and lines == ["$500,000 · 2 bed"]
    assert listing_lines(Listing(), "fallback-id") == ("fallback-id", [])
    assert listing_lines(Listing(property_type="condo in DTLA"), "p")[1] == ["Condo in DTLA"]


@pytest.mark.parametrize("with_music", [False, True])
def test_render_is_1080p_h264_aac_with_exact_duration(
    short_clip: Path, music_track: Path, tmp_path: Path, with_music: bool
) -> None:
    listing = Listing(address="123 Main St", price=650000, agent=Agent(name="Jane", phone="555"))
    title = draw_title_card(listing, "p", (1920, 1080), tmp_path / "title.png")
    clips = [RenderClip(short_clip, 2.0, 3.0, True, 16 / 9), RenderClip(short_clip, 20.0, 2.5, True, 9 / 16)]
    out = render_showcase(clips, title, tmp_path / "out.mp4", (1920, 1080), title_s=2.0, crossfade_s=0.5,
                          music=music_track if with_music else None)
    expected = 2.0 + 3.0 + 2.5 - 2 * 0.5
    assert (out.width, out.height, out.video_codec, out.audio_codec) == (1920, 1080, "h264", "aac")
    assert out.duration_s == pytest.approx(expected, abs=0.1)
    assert inspect_video(out.path) == out
    pictures, count = {}, 0
    with av.open(str(out.path)) as container:
        for count, frame in enumerate(container.decode(video=0), start=1):
            if count - 1 in (0, 20, 44, 75):  # only these are compared: 1080p frames as floats are 25 MB each
                pictures[count - 1] = frame.to_ndarray(format="rgb24").astype(np.float32)
    assert count == pytest.approx(expected * 30, abs=2)
    card = np.asarray(Image.open(title).convert("RGB"), dtype=np.float32)
    # the title card holds from the first frame until the crossfade into the first clip starts (1.5 s)
    assert all(np.abs(pictures[i] - card).mean() < 4 for i in (0, 20, 44))
    assert np.abs(pictures[75] - card).mean() > 20
    if with_music:  # faded in: the first quarter second is much quieter than the middle
        assert audio_rms(out.path, 0.0, 0.25) < 0.3 * audio_rms(out.path, 2.5, 3.5)
    else:  # the title card is silent, the clips carry their own sound
        assert audio_rms(out.path, 0.0, 1.0) < 1e-3 < audio_rms(out.path, 2.5, 4.0)
