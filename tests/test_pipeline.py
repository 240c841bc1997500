"""The whole asset graph materialised for one small real property."""

import base64
import io
import json
import re
from pathlib import Path

import av
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize
from media_helpers import write_upload
from PIL import Image

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_file
from real_estate_dag.resources.store import LocalStore

BRAND = {"agent_name": "Jane Realtor", "agent_phone": "+1 555 0100", "agent_email": "jane@example.com",
         "agent_licence": "DRE 0123", "agent_portrait": "agent.jpg", "brokerage": "Acme Homes", "logo": "logo.png",
         "listing_url": "https://example.com/7-maple"}


def run_property(root: Path, key: str):
    store = LocalStore(root=str(root))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", [key])
    return materialize(
        list(defs.assets),
        partition_key=key,
        instance=instance,
        resources={"store": store, "models": ModelRegistry(device="cpu"),
                   "io_manager": StoreJsonIOManager(store=store), "limits": UploadLimits()},
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, short_clip: Path, music_track: Path):
    root = tmp_path_factory.mktemp("store")
    folder = write_upload(root, "maple-ave", {"walk.mp4": short_clip}, music="music.m4a",
                          listing={"address": "7 Maple Ave", "price": 420000}, brand=BRAND,
                          options={"target_duration_s": 15, "aspects": ["16:9", "9:16"], "room_captions": True})
    (folder / "music.m4a").write_bytes(music_track.read_bytes())
    Image.new("RGB", (120, 160), (200, 150, 120)).save(folder / "agent.jpg")
    Image.new("RGBA", (200, 80), (250, 250, 250, 255)).save(folder / "logo.png")
    before = {p: p.read_bytes() for p in (root / "uploads").rglob("*") if p.is_file()}
    result = run_property(root, "maple-ave")
    return root, result, before


def metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_every_asset_materialises(pipeline) -> None:
    _, result, _ = pipeline
    assert result.success
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert done == {"property_manifest", "video_frames", "shot_boundaries", "detected_objects", "room_labels",
                    "quality_scores", "music_beats", "narration", "moderation", "agent_intro", "selected_clips",
                    "showcase_video"}
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["clips_inside_shots"] and checks["format"] and checks["duration_matches_edit"]
    assert checks["audio_present"]  # every render carries the music
    assert checks["unbranded_has_no_agent"]


def test_metadata_records_counts_and_backends(pipeline) -> None:
    _, result, _ = pipeline
    assert metadata(result, "video_frames")["frame_count"] == 1000
    shots = metadata(result, "shot_boundaries")
    assert shots["backend"].startswith("transnetv2") and len(shots["weights_sha256"]) == 64
    assert shots["shot_count"] >= 10
    assert metadata(result, "room_labels")["backend"].startswith("mobilenet_v2_imagenet+evidence@")
    assert metadata(result, "quality_scores")["backend"].startswith("pyiqa:piqe+classical@")
    assert metadata(result, "room_labels")["fallback_from"] is None
    edit = metadata(result, "selected_clips")["edit_decision_list"]
    assert [c.name for c in edit.schema.columns] == ["order", "video", "room", "in_s", "out_s", "duration_s",
                                                     "showcase_in_s", "showcase_out_s", "score", "stability"]
    assert [c.type for c in edit.schema.columns][:4] == ["int", "string", "string", "float"]
    assert [r.data["order"] for r in edit.records] == list(range(metadata(result, "selected_clips")["clip_count"]))
    shots = metadata(result, "shot_boundaries")["shots"]
    assert len(shots.records) == min(50, metadata(result, "shot_boundaries")["shot_count"])


def test_metadata_pictures_are_embedded_small_images(pipeline) -> None:
    _, result, _ = pipeline
    pictures = {"video_frames": ["contact_sheet"], "shot_boundaries": ["timeline"],
                "room_labels": ["segments", "room_sequence"], "quality_scores": ["score_plot"],
                "selected_clips": ["score_plot", "clip_frames"], "showcase_video": ["poster"]}
    for asset, entries in pictures.items():
        meta = metadata(result, asset)
        for entry in entries:
            uris = re.findall(r"\(data:image/(?:jpeg|png);base64,([A-Za-z0-9+/=]+)\)", meta[entry])
            assert uris, (asset, entry)
            for payload in uris:
                image = Image.open(io.BytesIO(base64.b64decode(payload)))
                assert len(base64.b64decode(payload)) < 150_000 and min(image.size) >= 20, (asset, entry)
    segments = metadata(result, "room_labels")["segments"]
    assert segments.count("![frames](data:image/jpeg") == min(50, metadata(result, "room_labels")["segment_count"])
    assert len(segments) < 400_000


def result_path(root: Path, name: str) -> Path:
    """``name`` in maple-ave's current result set."""
    store = LocalStore(root=str(root))
    return store.path(current_file(store, "maple-ave", name))


def test_clips_never_cross_a_detected_cut(pipeline) -> None:
    root, _, _ = pipeline
    shots = pd.read_parquet(result_path(root, "shots.parquet"))
    clips = pd.read_parquet(result_path(root, "clips.parquet"))
    assert len(clips) >= 2
    for clip in clips.itertuples():
        inside = shots[(shots.start_frame <= clip.in_frame) & (clip.out_frame <= shots.end_frame)]
        assert len(inside) == 1, clip
    rooms = pd.read_parquet(result_path(root, "rooms.parquet"))
    assert len(rooms) >= len(shots)


def test_showcase_files_are_published_and_uploads_untouched(pipeline) -> None:
    root, result, before = pipeline
    meta = metadata(result, "showcase_video")
    for name, size in (("showcase.mp4", (1920, 1080)), ("showcase_9x16.mp4", (1080, 1920))):
        path = result_path(root, name)
        with av.open(str(path)) as container:
            video, audio = container.streams.video[0], container.streams.audio[0]
            assert (video.codec_context.width, video.codec_context.height) == size
            assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
            assert container.duration / 1e6 == pytest.approx(meta["duration_s"], abs=0.1)
    assert meta["url"] == result_path(root, "showcase.mp4").as_uri()
    assert not list((root / "results/maple-ave").rglob(".tmp-*"))
    after = {p: p.read_bytes() for p in (root / "uploads").rglob("*") if p.is_file()}
    assert after == before


def test_models_rerun_alone_read_the_stored_frames_and_agree_with_the_full_pass(pipeline) -> None:
    root, _, _ = pipeline
    values = root / "work/maple-ave/values"
    before = {name: json.loads((values / f"{name}.json").read_text()) for name in ("shot_boundaries", "room_labels")}
    frames_before = sorted((p, p.stat().st_mtime_ns) for p in (root / "work/maple-ave/frames").rglob("*"))
    store = LocalStore(root=str(root))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", ["maple-ave"])
    result = materialize(list(defs.assets), partition_key="maple-ave", instance=instance,
                         selection=AssetSelection.assets("shot_boundaries", "room_labels"),
                         resources={"store": store, "models": ModelRegistry(device="cpu"),
                                    "io_manager": StoreJsonIOManager(store=store), "limits": UploadLimits()})
    assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} == {
        "shot_boundaries", "room_labels"}
    logs = [e.message for e in instance.all_logs(result.run_id) if e.step_key == "video_analysis"]
    assert not [m for m in logs if "decoding" in m] and [m for m in logs if "shot model: " in m]
    assert sorted((p, p.stat().st_mtime_ns) for p in (root / "work/maple-ave/frames").rglob("*")) == frames_before
    after = {name: json.loads((values / f"{name}.json").read_text()) for name in before}
    assert after["shot_boundaries"] == before["shot_boundaries"]
    assert after["room_labels"]["segments"] == before["room_labels"]["segments"]


def test_a_bad_property_fails_clearly_without_touching_others(tmp_path: Path, short_clip: Path) -> None:
    write_upload(tmp_path, "broken", {"walk.mp4": short_clip})
    (tmp_path / "uploads/broken/walk.mp4").write_bytes(b"not a video at all" * 50)
    result = run_property(tmp_path, "broken")
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "property_manifest"
    data = failure.event_specific_data.user_failure_data
    assert "uploads/broken/walk.mp4: not a readable media file" in data.description
    assert data.metadata["file"].value == "uploads/broken/walk.mp4"
    assert not (tmp_path / "results/broken").exists()


def test_unbranded_teaser_chapters_and_previews_are_published_from_reused_pieces(pipeline) -> None:
    root, result, _ = pipeline
    meta = metadata(result, "showcase_video")
    renders = {r.data["file"]: r.data for r in meta["renders"].records}
    assert set(renders) == {"showcase.mp4", "showcase_9x16.mp4", "showcase_unbranded.mp4",
                            "showcase_unbranded_9x16.mp4", "teaser.mp4", "teaser_9x16.mp4"}
    for name, row in renders.items():
        with av.open(str(result_path(root, name))) as container:
            assert container.duration / 1e6 == pytest.approx(row["duration_s"], abs=0.1)
        preview = re.search(r"\(data:image/webp;base64,([A-Za-z0-9+/=]+)\)", meta[f"preview {name}"]).group(1)
        assert len(base64.b64decode(preview)) < 150_000
    assert renders["teaser.mp4"]["duration_s"] <= 16.5
    # the unbranded twin encodes only its closing card and the crossfade into it
    assert renders["showcase_unbranded.mp4"]["pieces_encoded"] == 2
    assert renders["showcase_unbranded_9x16.mp4"]["pieces_encoded"] == 2
    clips = pd.read_parquet(result_path(root, "clips.parquet"))
    assert (clips.showcase_in_s.diff().dropna() > 0).all() and (clips.showcase_out_s > clips.showcase_in_s).all()
    vtt = result_path(root, "chapters.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "00:00:00.000 -->" in vtt and vtt.rstrip().endswith("Contact")
    assert "-->" in result_path(root, "rooms.srt").read_text()
    assert meta["chapters"].startswith("```\n0:00 Intro")
