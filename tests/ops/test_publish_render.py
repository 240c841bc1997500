"""The publishable render: pieces encoded once and reused, variants that re-encode only their cards,
frames equal to a full render's, the teaser from the showcase's pieces, previews."""

from pathlib import Path

import av
import numpy as np
import pytest

from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.preview import animated_preview, frame_count
from real_estate_dag.ops.render import Card, RenderClip, render_edit
from real_estate_dag.ops.render_cache import PieceCache
from real_estate_dag.ops.teaser import teaser_clips
from real_estate_dag.ops.titlecard import draw_title_card

SIZE = (320, 180)
FADE = 0.5


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.float64) for f in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def renders(tiny_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("pieces")
    cache = PieceCache(out / "cache")
    clips = [RenderClip(tiny_clip, 0.5, 2.0, True, 16 / 9), RenderClip(tiny_clip, 3.0, 2.0, True, 16 / 9),
             RenderClip(tiny_clip, 5.5, 2.0, True, 16 / 9)]
    title = Card(draw_title_card(Listing(address="1 Elm", price=500000), "p", SIZE, out / "title.png"), 1.5)
    cheaper = Card(draw_title_card(Listing(address="1 Elm", price=475000), "p", SIZE, out / "title2.png"), 1.5)
    closing = Card(draw_title_card(Listing(address="Call Jane"), "p", SIZE, out / "closing.png"), 1.5)
    plain = Card(draw_title_card(Listing(address="1 Elm"), "p", SIZE, out / "plain.png"), 1.5)
    black = Card(draw_title_card(Listing(), " ", SIZE, out / "black.png"), 2 * FADE)
    result = {"cache": cache, "clips": clips}
    result["full"] = render_edit([title, *clips, closing], out / "full.mp4", SIZE, crossfade_s=FADE, cache=cache)
    result["unbranded"] = render_edit([title, *clips, plain], out / "unbranded.mp4", SIZE, crossfade_s=FADE,
                                      cache=cache, source_audio=False)
    result["price"] = render_edit([cheaper, *clips, closing], out / "price.mp4", SIZE, crossfade_s=FADE, cache=cache)
    # the same price change rendered from nothing, as a first render would
    result["price_fresh"] = render_edit([cheaper, *clips, closing], out / "price_fresh.mp4", SIZE, crossfade_s=FADE)
    result["teaser"] = render_edit([black, clips[0], clips[2], black], out / "teaser.mp4", SIZE, crossfade_s=FADE,
                                   cache=cache, source_audio=False)
    return result


def test_a_first_render_encodes_every_piece_once(renders: dict) -> None:
    full = renders["full"]
    assert full.reused == ()
    assert full.encoded == ("card 0", "transition card 0 > clip 1", "clip 1", "transition clip 1 > clip 2", "clip 2",
                            "transition clip 2 > clip 3", "clip 3", "transition clip 3 > card 4", "card 4")
    assert full.duration_s == pytest.approx(1.5 + 3 * 2.0 + 1.5 - 4 * FADE, abs=0.05)
    assert len(frames(full.path)) == round((1.5 + 3 * 2.0 + 1.5 - 4 * FADE) * 30)


def test_a_variant_encodes_only_its_changed_cards_and_their_crossfades(renders: dict) -> None:
    assert renders["unbranded"].encoded == ("transition clip 3 > card 4", "card 4")
    assert renders["price"].encoded == ("card 0", "transition card 0 > clip 1")
    assert len(renders["price"].reused) == 7
    # the teaser reuses the clip bodies; only its black ends and the crossfades between them are new (its
    # two black ends are the same piece)
    assert renders["teaser"].encoded == ("card 0", "transition card 0 > clip 1", "transition clip 1 > clip 2",
                                         "transition clip 2 > card 3")
    assert renders["teaser"].reused == ("clip 1", "clip 2", "card 3")
    assert len(renders["cache"].encoded) == 9 + 2 + 2 + 4  # every encode of the module, counted once


def test_a_price_change_from_cached_pieces_has_the_frames_of_a_full_render(renders: dict) -> None:
    cached, fresh = frames(renders["price"].path), frames(renders["price_fresh"].path)
    assert len(cached) == len(fresh)
    assert min(psnr(a, b) for a, b in zip(cached, fresh, strict=True)) >= 45.0
    # and the title really changed: the first frame differs from the first render's
    assert psnr(frames(renders["full"].path)[0], cached[0]) < 40.0


def test_the_teaser_takes_the_strongest_clips_in_showcase_order() -> None:
    edl = [{"order": i, "score": s, "duration_s": 4.0} for i, s in enumerate([0.5, 0.9, 0.2, 0.8, 0.7, 0.95])]
    chosen = teaser_clips(edl, lead_s=1.0, crossfade_s=0.5, length_s=15.0)
    assert [c["order"] for c in chosen] == [1, 3, 4, 5]
    assert 13.5 <= 2 * 1.0 + 4 * 4.0 - 5 * 0.5 <= 16.5


def test_the_animated_preview_is_small_and_moves(renders: dict) -> None:
    data = animated_preview(renders["full"].path, frames=8, width=240)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert len(data) < 150_000 and frame_count(data) == 8
