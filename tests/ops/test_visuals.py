"""Pictures for the UI drawn from real decoded frames; each stays under the embedding limit."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from real_estate_dag.ops.decode import DecodedVideo, decode_video
from real_estate_dag.ops.visuals import (
    BACKGROUND,
    MARK,
    MAX_IMAGE_BYTES,
    SHOT_COLOURS,
    ClipMark,
    ScoreSeries,
    TimelineRow,
    contact_sheet,
    data_uri,
    encode,
    pick_evenly,
    poster_frame,
    score_plot,
    shot_timeline,
    thumbnail_strip,
)


@pytest.fixture(scope="module")
def decoded(short_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> DecodedVideo:
    return decode_video(short_clip, "short.mp4", tmp_path_factory.mktemp("visuals"))


def decode_uri(uri: str) -> Image.Image:
    header, payload = uri.split(",", 1)
    assert header in ("data:image/jpeg;base64", "data:image/png;base64")
    data = base64.b64decode(payload)
    assert len(data) <= MAX_IMAGE_BYTES
    return Image.open(io.BytesIO(data))


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean())


def test_contact_sheet_places_each_frame_in_its_cell(decoded: DecodedVideo) -> None:
    samples = pick_evenly(decoded.sampled, 8)
    assert samples[0] == decoded.sampled[0] and samples[-1] == decoded.sampled[-1]
    frames = [decoded.sampled_image(s) for s in samples]
    sheet = contact_sheet([(f, f"short.mp4 {s.time_s:.1f} s") for f, s in zip(frames, samples, strict=True)],
                          columns=4, thumb_width=120)
    thumb_h = round(frames[0].height * 120 / frames[0].width)
    assert sheet.width == 8 + 4 * 128 and sheet.height > 2 * thumb_h
    cell_h = (sheet.height - 8) // 2
    for i, frame in enumerate(frames):
        x, y = 8 + (i % 4) * 128, 8 + (i // 4) * cell_h
        cell = sheet.crop((x, y, x + 120, y + thumb_h))
        expected = frame.resize((120, thumb_h))
        assert mean_abs_diff(cell, expected) < 6  # this frame, not a neighbour's
        other = frames[(i + 3) % 8].resize((120, thumb_h))
        assert mean_abs_diff(cell, other) > mean_abs_diff(cell, expected)
    image = decode_uri(data_uri(sheet))
    assert image.size == sheet.size and image.format == "JPEG"


def test_thumbnail_strip_keeps_aspect_and_order(decoded: DecodedVideo) -> None:
    frames = [decoded.sampled_image(s) for s in decoded.sampled[:3]]
    strip = thumbnail_strip(frames, height=36)
    width = round(frames[0].width * 36 / frames[0].height)
    assert strip.size == (3 * width + 2, 36)
    for i, frame in enumerate(frames):
        cell = strip.crop((i * (width + 1), 0, i * (width + 1) + width, 36))
        assert mean_abs_diff(cell, frame.resize((width, 36))) < 6


def test_shot_timeline_draws_each_shot_and_the_gap_of_a_transition() -> None:
    probs = np.zeros(250)
    probs[99:101] = 0.95
    row = TimelineRow("walk.mp4", 10.0, [(0.0, 3.96), (4.04, 10.0)], probs)
    image = shot_timeline([row], width=508)
    pixels = np.asarray(image)
    bar_y = 8 + 18 + 13
    x_of = lambda t: round(8 + 492 * t / 10.0)  # noqa: E731
    assert tuple(pixels[bar_y, x_of(2.0)]) == SHOT_COLOURS[0]
    assert tuple(pixels[bar_y, x_of(7.0)]) == SHOT_COLOURS[1]
    assert tuple(pixels[bar_y, x_of(4.0)]) != SHOT_COLOURS[1]  # the transition is left open
    curve = pixels[8 + 18 + 26 + 4 : 8 + 18 + 26 + 4 + 34, :]
    red = np.argwhere((curve[..., 0] > 180) & (curve[..., 1] < 120))
    assert len(red) and abs(red[:, 1].mean() - x_of(4.0)) < 20  # the probability spike sits at 4 s
    assert red[:, 0].min() <= 3  # and reaches near the top


def test_score_plot_marks_chosen_clips() -> None:
    times = np.arange(0, 20, 0.5)
    series = ScoreSeries("walk.mp4", 20.0, times, 0.5 + 0.4 * np.sin(times))
    plain = np.asarray(score_plot([series], width=434))
    marked = np.asarray(score_plot([series], [ClipMark("walk.mp4", 5.0, 9.0, "#0"),
                                              ClipMark("other.mp4", 1.0, 2.0, "#1")], width=434))
    x_of = lambda t: round(34 + 392 * t / 20.0)  # noqa: E731
    row = 8 + 18 + 100
    assert tuple(marked[row, x_of(7.0)]) == MARK and tuple(plain[row, x_of(7.0)]) == BACKGROUND
    assert tuple(marked[row, x_of(1.5)]) == BACKGROUND  # a clip of another video is not marked here
    assert tuple(marked[row, x_of(13.3)]) == BACKGROUND


def test_poster_frame_is_the_frame_at_that_time(short_clip: Path, decoded: DecodedVideo) -> None:
    sample = decoded.sampled[20]
    poster = poster_frame(short_clip, sample.time_s)
    assert poster.size == (160, 90)
    expected = decoded.sampled_image(sample).resize((160, 90))
    assert mean_abs_diff(poster, expected) < 8
    assert mean_abs_diff(poster, decoded.sampled_image(decoded.sampled[5]).resize((160, 90))) > 8


def test_encoding_shrinks_large_images_below_the_limit(decoded: DecodedVideo) -> None:
    rng = np.random.default_rng(1)
    for fmt, size in (("JPEG", (1500, 2000)), ("PNG", (500, 600))):
        noise = Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8))
        data = encode(noise, fmt)
        assert len(data) <= MAX_IMAGE_BYTES
        assert Image.open(io.BytesIO(data)).format == fmt
    small = decoded.sampled_image(decoded.sampled[0])
    assert Image.open(io.BytesIO(encode(small))).size == small.size  # small images keep their size
