"""Photos through the asset graph: a property of photos alone becomes a complete showcase; a mixed edit
prefers footage and fills the rooms it lacks with photo clips."""

import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize
from photo_helpers import footage_frames, write_photo_set
from PIL import Image, ImageOps

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.photo_select import plan_edit
from real_estate_dag.ops.render import RenderClip, inspect_video, render_showcase
from real_estate_dag.ops.rooms import ROOM_TYPES
from real_estate_dag.ops.select import Candidate, SelectionParams
from real_estate_dag.ops.titlecard import draw_title_card
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_file
from real_estate_dag.resources.store import LocalStore

KEY = "oak-st"


def _resources(root: Path) -> dict:
    store = LocalStore(root=str(root))
    return {"store": store, "models": ModelRegistry(device="cpu"), "io_manager": StoreJsonIOManager(store=store),
            "limits": UploadLimits()}


@pytest.fixture(scope="module")
def photo_frames(source_video: Path) -> list[Image.Image]:
    return footage_frames(source_video)


@pytest.fixture(scope="module")
def photo_only(tmp_path_factory: pytest.TempPathFactory, photo_frames: list[Image.Image], music_track: Path):
    root = tmp_path_factory.mktemp("photo-store")
    folder = root / "uploads" / KEY
    write_photo_set(folder / "photos", photo_frames)
    (folder / "music.m4a").write_bytes(music_track.read_bytes())
    (folder / "manifest.json").write_text(json.dumps({
        "music": "music.m4a", "listing": {"address": "9 Oak St", "price": 310000},
        "options": {"target_duration_s": 10}}))
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", [KEY])
    result = materialize(list(defs.assets), partition_key=KEY, instance=instance, resources=_resources(root),
                         raise_on_error=False)
    return root, result, before


def _materialization(result, asset: str):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return event.materialization


def test_photo_only_property_is_analysed(photo_only) -> None:
    root, result, before = photo_only
    assert result.success
    value = result.output_for_node("photo_analysis")
    rows = {r["file"]: r for r in value["photos"]}
    assert len(rows) == 8 and all(name.startswith("photos/") for name in rows)
    groups = {name: r["duplicate_group"] for name, r in rows.items()}
    assert groups["photos/front.jpg"] == groups["photos/front_copy.jpg"] == groups["photos/front_small.webp"]
    assert len(set(groups.values())) == 6
    assert sum(r["distinct"] for r in rows.values()) == 6
    assert sum(r["hero"] for r in rows.values()) == 1 and value["hero"] in rows
    for r in rows.values():
        assert r["room"] in ROOM_TYPES and 0 <= r["confidence"] <= 1 and 0 <= r["quality"] <= 1
        assert [t["p"] for t in r["top3"]] == sorted((t["p"] for t in r["top3"]), reverse=True)
        assert r["top3"][0]["room"] == r["room"]
        assert 0 <= r["focus"][0] <= 1 and 0 <= r["focus"][1] <= 1
        assert r["focus_from"] == ("objects" if r["objects"] else "saliency")
        if r["objects"]:  # the focus is the centre of the largest detected object
            x0, y0, x1, y1 = max((o["box"] for o in r["objects"]), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            assert r["focus"] == pytest.approx([(x0 + x1) / 2, (y0 + y1) / 2], abs=1e-3)
        enhanced = Image.open(root / r["enhanced_key"])
        assert (enhanced.width > enhanced.height) == (r["width"] > r["height"])
        assert r["upscaled"] == "lanczos"  # small photos, no super-resolution weights set
    assert Image.open(root / "uploads" / KEY / "photos" / "bath_exif6.jpg").size == (180, 320)
    assert (rows["photos/bath_exif6.jpg"]["width"], rows["photos/bath_exif6.jpg"]["height"]) == (320, 180)  # upright
    embeddings = np.load(root / value["embeddings"])
    assert embeddings.shape[0] == 8 and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-4)
    metadata = _materialization(result, "photo_analysis").metadata
    assert any(r["objects"] for r in rows.values())  # the footage's people are found
    for picture in ("contact_sheet", "before_after", "hero"):
        assert metadata[picture].value.startswith("![")
    assert {p: p.read_bytes() for p in before} == before  # the upload is only read


def test_photo_only_showcase(photo_only) -> None:
    root, result, _ = photo_only
    store = LocalStore(root=str(root))
    clips = pd.read_parquet(store.local_path(current_file(store, KEY, "clips.parquet")))
    assert set(clips["source"]) == {"photo"}
    assert all(reason.startswith("photo-only property: ") for reason in clips["reason"])
    assert clips["video"].is_unique  # one photo per duplicate group at most
    photos = pd.read_parquet(store.local_path(current_file(store, KEY, "photos.parquet")))
    assert list(photos.columns) == ["file", "room", "confidence", "quality", "duplicate_group", "hero", "used"]
    assert set(photos.loc[photos["used"], "file"]) == set(clips["video"])
    edit = result.output_for_node("selected_clips")
    path = store.local_path(current_file(store, KEY, "showcase.mp4"))
    rendered = inspect_video(path)
    assert (rendered.width, rendered.height, rendered.video_codec, rendered.audio_codec) == (1920, 1080, "h264", "aac")
    assert abs(rendered.duration_s - edit["showcase_s"]) < 0.5
    photo_rows = result.output_for_node("photo_analysis")["photos"]
    hero = next(r for r in photo_rows if r["hero"])
    with av.open(str(path)) as container:
        title = next(f.to_image() for f in container.decode(video=0) if f.time >= 1.0)

    def likeness(photo_key: str) -> float:
        photo = ImageOps.fit(Image.open(root / photo_key).convert("L"), (192, 108))
        a, b = (np.asarray(x, dtype=np.float64).ravel() for x in (title.convert("L").resize((192, 108)), photo))
        return float(np.corrcoef(a, b)[0, 1])

    others = [likeness(r["enhanced_key"]) for r in photo_rows if r["distinct"] and not r["hero"]]
    assert likeness(hero["enhanced_key"]) > max(others) + 0.1  # the title card is drawn over the hero


def test_a_bad_photo_fails_the_manifest_naming_it(tmp_path: Path, photo_frames: list[Image.Image]) -> None:
    folder = tmp_path / "uploads" / "elm-st"
    (folder / "photos").mkdir(parents=True)
    photo_frames[0].save(folder / "photos" / "a.jpg")
    raw = (folder / "photos" / "a.jpg").read_bytes()
    (folder / "photos" / "b.jpg").write_bytes(raw[: len(raw) // 3])
    (folder / "manifest.json").write_text("{}")
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", ["elm-st"])
    result = materialize(list(defs.assets), selection=AssetSelection.assets("property_manifest"),
                         partition_key="elm-st", instance=instance, resources=_resources(tmp_path),
                         raise_on_error=False)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description.startswith(
        "uploads/elm-st/photos/b.jpg: is truncated or corrupt")


def _candidate(video: str, room: str, score: float, start_s: float, times: np.ndarray, index: int) -> Candidate:
    first, last = int(start_s * 25), int(start_s * 25) + 99
    samples = np.arange(start_s + 0.25, start_s + 4.0, 0.5)
    embedding = np.zeros(8)
    embedding[index] = 1
    return Candidate(video, 0, index, index, room, first, last, times[first], times[last] + 0.04, samples,
                     np.full(len(samples), score), np.ones(len(samples)), embedding, times)


def _photo_row(name: str, room: str, quality: float, key: str, group: int) -> dict:
    return {"file": name, "room": room, "quality": quality, "distinct": True, "enhanced_key": key,
            "focus": [0.5, 0.5], "duplicate_group": group}


def test_mixed_edit_prefers_footage_and_fills_rooms_with_photos(tiny_clip: Path, photo_frames: list[Image.Image],
                                                                 music_track: Path, tmp_path: Path) -> None:
    times = np.arange(200) / 25
    candidates = [_candidate("walk.mp4", "living_room", 0.8, 0.0, times, 0),
                  _candidate("walk.mp4", "kitchen", 0.2, 4.0, times, 1)]
    for i, frame in enumerate(photo_frames[:3]):
        frame.save(tmp_path / f"p{i}.jpg")
    rows = [_photo_row("photos/front.jpg", "exterior", 0.7, "p0.jpg", 0),
            _photo_row("photos/kitchen.jpg", "kitchen", 0.6, "p1.jpg", 1),
            _photo_row("photos/living.jpg", "living_room", 0.9, "p2.jpg", 2)]
    params = SelectionParams(min_clip_s=2.0, max_clip_s=3.0, preferred_clip_s=2.5, title_s=1.0)
    edit = plan_edit(candidates, rows, 10.0, params)
    clips = [c.to_dict() for c in edit.clips]
    summary = [(c["source"], c["room"], c["video"]) for c in clips]
    assert summary == [("photo", "exterior", "photos/front.jpg"), ("video", "living_room", "walk.mp4"),
                       ("video", "kitchen", "walk.mp4"), ("photo", "kitchen", "photos/kitchen.jpg")]
    reasons = [c["reason"] for c in clips]
    assert reasons[0].startswith("photo: no exterior footage")
    assert reasons[1].startswith("footage: best-scoring window of a living_room segment")
    assert reasons[3].startswith("photo: kitchen footage scores 0.20 < 0.3")

    size = (480, 270)  # the renderer's own frame sizes are checked by the photo-only showcase
    sources = []
    for c in clips:
        if c["source"] == "photo":
            sources.append(RenderClip(tmp_path / c["photo_key"], 0.0, c["duration_s"], False, 16 / 9, kind="photo",
                                      room=c["room"], focus=tuple(c["focus"])))
        else:
            sources.append(RenderClip(tiny_clip, c["in_s"], c["duration_s"], True, 16 / 9))
    title = draw_title_card(Listing(address="3 Elm St"), "elm", size, tmp_path / "title.png",
                            Image.open(tmp_path / "p0.jpg"))
    rendered = render_showcase(sources, title, tmp_path / "mixed.mp4", size, title_s=1.0, crossfade_s=0.5,
                               music=music_track)
    assert (rendered.width, rendered.height, rendered.video_codec, rendered.audio_codec) == (480, 270, "h264", "aac")
    assert abs(rendered.duration_s - edit.showcase_s) < 0.5
