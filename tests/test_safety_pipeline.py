"""A narrated property through the whole graph: the transcript and captions published on the showcase's
time line, the narration kept, faces blurred, the agent intro first; then moderation with a face class
blocked stops publication. (The unbranded version's muted sentences are measured in ops/test_ducking.py.)"""

import json
from pathlib import Path

import av
import pytest
import srt
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize
from media_helpers import SHOWCASE_ONLY, write_upload
from PIL import Image

from real_estate_dag.assets.moderation import moderation, moderation_asset
from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.moderation import EXPLICIT, FACES
from real_estate_dag.ops.speech import Transcript, inside_word
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import read_current
from real_estate_dag.resources.safety import SafetySettings
from real_estate_dag.resources.store import LocalStore

KEY = "oak-st"


def resources(root: Path) -> dict:
    store = LocalStore(root=str(root))
    return {"store": store, "models": ModelRegistry(device="cpu"), "io_manager": StoreJsonIOManager(store=store),
            "limits": UploadLimits()}


@pytest.fixture(scope="module")
def narrated_property(tmp_path_factory: pytest.TempPathFactory, narrated_clip: Path, music_track: Path):
    root = tmp_path_factory.mktemp("narrated")
    folder = write_upload(root, KEY, {"walk.mp4": narrated_clip}, music="music.m4a",
                          listing={"address": "9 Oak St", "price": 510000},
                          brand={"agent_name": "Mary Brown", "brokerage": "Harbor Realty",
                                 "agent_portrait": "agent.jpg"},
                          options={"target_duration_s": 10, "aspects": ["16:9"], **SHOWCASE_ONLY})
    (folder / "music.m4a").write_bytes(music_track.read_bytes())
    with av.open(str(narrated_clip)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= 0.5).to_image()
    portrait = Image.new("RGB", (320, 400), (40, 200, 60))
    portrait.paste(frame.resize((240, 135)).crop((50, 0, 190, 135)).resize((210, 300)), (55, 100))
    portrait.save(folder / "agent.jpg")
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("property", [KEY])
    result = materialize(list(defs.assets), partition_key=KEY, instance=instance, resources=resources(root),
                         raise_on_error=False)
    return root, instance, result


def step_spans(instance: DagsterInstance, run_id: str) -> dict[str, list[float]]:
    spans: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
            spans.setdefault(event.step_key, []).append(entry.timestamp)
    return {k: v for k, v in spans.items() if len(v) == 2}


def value(root: Path, asset: str) -> dict:
    return json.loads((root / "work" / KEY / "values" / f"{asset}.json").read_text())


def test_the_narration_is_published_kept_and_blurred_with_the_intro_first(narrated_property) -> None:
    root, instance, result = narrated_property
    assert result.success
    print("\n" + "; ".join(f"{k} {v[1] - v[0]:.1f} s" for k, v in step_spans(instance, result.run_id).items()))
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["no_blocked_content"] and checks["no_cut_inside_a_word"] and checks["audio_present"]
    narration = value(root, "narration")
    [video] = narration["videos"]
    assert "new roof" in video["keywords"] and video["language"] == "en"
    current = read_current(LocalStore(root=str(root)), KEY)
    files = {name: Path(f["url"].removeprefix("file://")) for name, f in current["files"].items()}
    assert {"transcript.json", "narration.srt", "narration.vtt", "showcase.mp4"} <= set(files)
    transcript = Transcript.from_dict(json.loads(files["transcript.json"].read_text())["videos"][0])
    clips = value(root, "selected_clips")["clips"]
    for clip in clips:  # cut points in pauses
        assert not inside_word(clip["in_s"], transcript.words) and not inside_word(clip["out_s"], transcript.words)
    intro = value(root, "agent_intro")
    assert intro["cutout"] and intro["located_by"].startswith("person detector")
    # the captions sit where the clips play in the published showcase: after the intro card and the title
    cues = list(srt.parse(files["narration.srt"].read_text()))
    assert cues
    offset = intro["intro_s"] - value(root, "selected_clips")["params"]["crossfade_s"]
    first = clips[0]
    said = [w for w in transcript.words if first["in_s"] <= (w.start + w.end) / 2 <= first["out_s"]]
    expected = first["showcase_in_s"] + offset + max(0.0, said[0].start - first["in_s"])
    assert cues[0].start.total_seconds() == pytest.approx(expected, abs=0.01)
    with av.open(str(files["showcase.mp4"])) as container:
        duration = container.duration / av.time_base
    assert cues[-1].end.total_seconds() <= duration
    blurred = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("showcase_video")]
    rows = blurred[0].materialization.metadata["blurred_clips"].value.records
    assert rows and all(r.data["blurred_frames"] > 0 for r in rows)


def test_a_blocked_face_class_stops_publication_naming_file_and_time(narrated_property) -> None:
    root, instance, _ = narrated_property
    before = read_current(LocalStore(root=str(root)), KEY)
    strict = moderation_asset(SafetySettings(blocked_classes=",".join((*EXPLICIT, *FACES))))
    assets = [strict if moderation.key in a.keys else a for a in defs.assets]
    result = materialize(assets, partition_key=KEY, instance=instance, resources=resources(root),
                         selection=AssetSelection.assets("moderation", "showcase_video"), raise_on_error=False)
    assert not result.success
    [check] = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert check.check_name == "no_blocked_content" and not check.passed
    assert check.description.startswith("not published:") and "walk.mp4 at " in check.description
    assert " s: FACE_" in check.description
    assert not [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("showcase_video")]
    assert read_current(LocalStore(root=str(root)), KEY) == before  # nothing new was published
