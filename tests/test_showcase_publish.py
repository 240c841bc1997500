"""showcase_video run by Dagster on real renders: checks before publishing, one result set per run.

The upstream steps are replaced by assets that return fixed values (and stage their tables), so
only the render step runs; it renders, checks and publishes for real.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetExecutionContext, DagsterInstance, asset, materialize
from media_helpers import SHOWCASE_ONLY, ffmpeg

from real_estate_dag.assets.common import property_partitions, publish_table
from real_estate_dag.assets.showcase import TABLES, output_checks, showcase_video
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.inputs import fingerprint
from real_estate_dag.ops.manifest import Listing, parse_manifest
from real_estate_dag.ops.render import ASPECT_SIZES, RenderClip, inspect_video, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card
from real_estate_dag.resources.results import current_file, read_current
from real_estate_dag.resources.store import LocalStore, Store

KEY = "elm-st"


@pytest.fixture(scope="module")
def footage(source_video: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("publish")
    ffmpeg("-i", str(source_video), "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           str(out / "walk.mp4"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "20", "-c:a", "libmp3lame",
           str(out / "silent.mp3"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=20", "-c:a", "libmp3lame",
           str(out / "full.mp3"))
    full = (out / "full.mp3").read_bytes()
    (out / "truncated.mp3").write_bytes(full[: len(full) // 20])  # its header still says 20 s
    return {p.name: p for p in out.iterdir()}


def upstream(root: Path, footage: dict[str, Path], music: str | None, showcase_s: float, edit: int) -> list:
    """Assets standing in for property_manifest and selected_clips: fixed values, tables staged."""
    folder = root / "uploads" / KEY
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("walk.mp4", music):
        if name:
            (folder / name).write_bytes(footage[name].read_bytes())
    manifest = parse_manifest(json.dumps({"property_id": KEY, "videos": ["walk.mp4"], "music": music,
                                          "options": {"target_duration_s": 10, **SHOWCASE_ONLY}}).encode())
    value = {"manifest": manifest.to_dict(),
             "videos": [{"name": "walk.mp4", "key": f"uploads/{KEY}/walk.mp4",
                         "facts": {"width": 160, "height": 90, "rotation": 0, "has_audio": True},
                         "fingerprint": fingerprint(folder / "walk.mp4")}],
             "music": {"name": music, "key": f"uploads/{KEY}/{music}", "duration_s": 20.0,
                       "fingerprint": fingerprint(folder / music)} if music else None}
    clips = {"clips": [{"order": 0, "video": "walk.mp4", "room": "kitchen", "score": 0.8, "in_s": 0.5,
                        "duration_s": 3.0, "showcase_in_s": 0.5, "showcase_out_s": 3.5, "source": "video"},
                       {"order": 1, "video": "walk.mp4", "room": "bedroom", "score": 0.7, "in_s": 4.0,
                        "duration_s": 3.0, "showcase_in_s": 3.0, "showcase_out_s": 6.0, "source": "video"}],
             "params": {"title_s": 1.0, "crossfade_s": 0.5, "min_clip_s": 2.0}, "showcase_s": showcase_s,
             "pictures": {"walk.mp4": {"x": 0, "y": 0, "width": 160, "height": 90}}}

    @asset(name="property_manifest", partitions_def=property_partitions)
    def manifest_stand_in(context: AssetExecutionContext, store: Store) -> dict:
        for name in TABLES:
            publish_table(store, context.partition_key, name, [{"edit": edit, "table": name}])
        return value

    @asset(name="selected_clips", partitions_def=property_partitions, deps=[manifest_stand_in])
    def clips_stand_in() -> dict:
        return clips

    @asset(name="narration", partitions_def=property_partitions)
    def narration_stand_in() -> dict:
        return {"videos": [], "settings": {"burn_in_captions": False, "duck_ratio": 8}}

    @asset(name="moderation", partitions_def=property_partitions)
    def moderation_stand_in() -> dict:
        return {"findings": [], "settings": {"blur_classes": ["FACE_FEMALE", "FACE_MALE"], "blur_score": 0.3}}

    @asset(name="agent_intro", partitions_def=property_partitions)
    def intro_stand_in() -> dict:
        return {"cutout": None, "clip": None}

    return [manifest_stand_in, clips_stand_in, narration_stand_in, moderation_stand_in, intro_stand_in]


def run(root: Path, footage: dict[str, Path], instance: DagsterInstance, *, music: str | None = None,
        showcase_s: float = 6.0, edit: int = 1):
    return materialize([*upstream(root, footage, music, showcase_s, edit), showcase_video], partition_key=KEY,
                       instance=instance, raise_on_error=False,
                       resources={"store": LocalStore(root=str(root)), "models": ModelRegistry(device="cpu")})


@pytest.fixture
def instance() -> DagsterInstance:
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", [KEY])
    return instance


def checks(result) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def files(root: Path) -> dict[str, bytes]:
    base = root / "results" / KEY
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def test_two_runs_publish_two_sets_current_names_the_second_and_keeps_the_first(
    tmp_path: Path, footage: dict[str, Path], instance: DagsterInstance
) -> None:
    store = LocalStore(root=str(tmp_path))
    first = run(tmp_path, footage, instance, edit=1)
    assert first.success
    second = run(tmp_path, footage, instance, edit=2)
    assert second.success
    current = read_current(store, KEY)
    assert current["run_id"] == second.run_id and current["previous_set_id"] == first.run_id
    assert set(current["files"]) == {"showcase.mp4", "chapters.vtt", "rooms.srt", *(f"{t}.parquet" for t in TABLES)}
    for name, entry in current["files"].items():
        path = store.path(entry["key"])
        assert path.parent.name == second.run_id and path.stat().st_size == entry["size"], name
        assert entry["url"] == path.as_uri()
    clips = pd.read_parquet(store.path(current_file(store, KEY, "clips.parquet")))
    assert clips["edit"].tolist() == [2]  # the tables of the run that rendered the video
    assert inspect_video(store.path(current_file(store, KEY, "showcase.mp4"))).width == 1920
    assert (tmp_path / f"results/{KEY}/runs/{first.run_id}/showcase.mp4").is_file()  # the previous set is kept
    meta = second.asset_materializations_for_node("showcase_video")[0].metadata
    assert meta["url"].value == current["files"]["showcase.mp4"]["url"]
    assert meta["result_set"].value == (tmp_path / f"results/{KEY}/current.json").as_uri()
    assert not (tmp_path / f"work/{KEY}/render").exists()  # renders are not kept once published

    third = run(tmp_path, footage, instance, edit=3)
    assert third.success
    assert sorted(p.name for p in (tmp_path / f"results/{KEY}/runs").iterdir()) == sorted(
        [second.run_id, third.run_id])  # the set before the previous one is gone


def test_a_failing_check_publishes_nothing_and_names_the_check_and_file(
    tmp_path: Path, footage: dict[str, Path], instance: DagsterInstance
) -> None:
    assert run(tmp_path, footage, instance, edit=1).success
    before = files(tmp_path)
    failed = run(tmp_path, footage, instance, showcase_s=30.0, edit=2)  # the edit says 30 s, the render is 6 s
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("nothing was published: check duration_matches_edit failed: showcase.mp4: 6.")
    assert checks(failed) == {"format": True, "duration_matches_edit": False, "audio_present": True,
                              "unbranded_has_no_agent": True}
    assert files(tmp_path) == before  # the previous set and current.json, byte for byte
    assert not failed.asset_materializations_for_node("showcase_video")
    assert not (tmp_path / f"work/{KEY}/render").exists()


def test_a_render_error_renders_once_and_publishes_nothing(
    tmp_path: Path, footage: dict[str, Path], instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deterministic render failure (the encoder exits with an error) is not retried: one attempt."""
    assert run(tmp_path, footage, instance, edit=1).success
    before = files(tmp_path)
    broken = tmp_path / "broken-ffmpeg"
    broken.write_text("#!/bin/sh\necho 'Error initializing output stream: encoder refused' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(broken))
    failed = run(tmp_path, footage, instance, edit=2)
    assert not failed.success
    steps = [e.event_type_value for e in failed.all_events if e.step_key == "showcase_video"
             and e.event_type_value in ("STEP_START", "STEP_UP_FOR_RETRY", "STEP_RESTARTED", "STEP_FAILURE")]
    assert steps == ["STEP_START", "STEP_FAILURE"]
    [failure] = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    cause = failure.step_failure_data.error.cause.message
    assert cause.startswith("RuntimeError: rendering the 16:9 showcase failed: ffmpeg exited with status 1")
    assert "encoder refused" in cause
    assert files(tmp_path) == before


@pytest.mark.parametrize("music", ["silent.mp3", "truncated.mp3"])
def test_silent_or_truncated_music_is_checked_before_publishing_and_passes(
    music: str, tmp_path: Path, footage: dict[str, Path], instance: DagsterInstance
) -> None:
    result = run(tmp_path, footage, instance, music=music)
    assert result.success
    assert checks(result) == {"format": True, "duration_matches_edit": True, "audio_present": True,
                              "unbranded_has_no_agent": True}
    assert read_current(LocalStore(root=str(tmp_path)), KEY)["run_id"] == result.run_id


def test_a_check_that_cannot_be_computed_counts_as_failed(footage: dict[str, Path], tmp_path: Path) -> None:
    """The audio check reading a music file that is gone: a failed check (so nothing is published), not a crash."""
    title = draw_title_card(Listing(), KEY, ASPECT_SIZES["16:9"], tmp_path / "title.png")
    rendered = render_showcase([RenderClip(footage["walk.mp4"], 0.5, 3.0, True, 16 / 9),
                                RenderClip(footage["walk.mp4"], 4.0, 3.0, True, 16 / 9)], title,
                               tmp_path / "showcase.mp4", ASPECT_SIZES["16:9"], title_s=1.0, crossfade_s=0.5)
    results = {c.check_name: c for c in output_checks([("16:9", rendered, 1.0)], 6.0, 10.0,
                                                        tmp_path / "gone.mp3", "music: gone.mp3")}
    assert results["format"].passed and results["duration_matches_edit"].passed
    assert not results["audio_present"].passed
    assert results["audio_present"].metadata["problems"].value.startswith(
        "the sound could not be checked (FileNotFoundError")
