"""`scripts/demo --footage DIR`: the whole pipeline on a folder of the user's own material."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest
from media_helpers import SHOWCASE_ONLY, ffmpeg
from PIL import Image

from real_estate_dag.demo import main
from real_estate_dag.ops.keys import property_key

REPO = Path(__file__).resolve().parents[1]
# Longer than a file name may be, with a slash and non-ASCII letters: the upload folder is its key.
LONG_ID = "Unit 4/B, Überseeallee " + "9" * 300


def printed(stdout: str, label: str) -> Path:
    [line] = [line for line in stdout.splitlines() if line.startswith(f"{label}: ")]
    return Path(line.removeprefix(f"{label}: "))


def test_footage_folder_runs_the_whole_pipeline(tmp_path: Path, tiny_clip: Path, music_track: Path) -> None:
    footage = tmp_path / "my footage"
    footage.mkdir()
    (footage / "b living.mp4").write_bytes(tiny_clip.read_bytes())
    # a phone held upright, without a sound track
    ffmpeg("-i", str(tiny_clip), "-t", "4", "-vf", "transpose=1", "-an", "-c:v", "libx264", "-preset", "veryfast",
           str(footage / "a hall.mov"))
    (footage / "song.m4a").write_bytes(music_track.read_bytes())
    (footage / "notes.txt").write_text("not footage")
    (footage / "photos").mkdir()
    Image.new("RGB", (64, 48), "white").save(footage / "photos" / "front.jpg")
    (footage / "manifest.json").write_text(json.dumps({
        "property_id": "not used", "listing": {"address": "9 Elm Rd", "price": 300000},
        "options": {"target_duration_s": 10, **SHOWCASE_ONLY}}))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "REDAG_STORE_ROOT": str(tmp_path / "store")}
    done = subprocess.run([sys.executable, "-m", "real_estate_dag.demo", "--footage", str(footage),
                           "--property-id", LONG_ID], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 photos: photos/front.jpg" in done.stdout
    assert re.search(r"^stages: property_manifest [\d.]+ s, ", done.stdout, re.MULTILINE)

    key = property_key(LONG_ID)
    upload = tmp_path / "store" / "uploads" / key
    assert sorted(p.name for p in upload.iterdir()) == ["a hall.mov", "b living.mp4", "manifest.json", "photos",
                                                         "song.m4a"]
    assert [p.name for p in (upload / "photos").iterdir()] == ["front.jpg"]
    manifest = json.loads((upload / "manifest.json").read_text())
    assert manifest == {"property_id": LONG_ID, "videos": ["a hall.mov", "b living.mp4"], "launch": "client",
                        "photos": [{"file": "photos/front.jpg"}],
                        "music": "song.m4a", "listing": {"address": "9 Elm Rd", "price": 300000},
                        "options": {"target_duration_s": 10, **SHOWCASE_ONLY}}

    current_json = printed(done.stdout, "the current result set (files, sizes, sha256)")
    assert current_json == tmp_path / "store" / "results" / key / "current.json"
    current = json.loads(current_json.read_text())
    showcase = printed(done.stdout, "showcase video")
    assert showcase == tmp_path / "store" / current["files"]["showcase.mp4"]["key"]
    tables = printed(done.stdout, "tables")
    assert sorted(p.name for p in tables.parent.glob(tables.name)) == sorted(
        name for name in current["files"] if name.endswith(".parquet"))
    assert {"shots.parquet", "rooms.parquet", "clips.parquet"} <= {p.name for p in tables.parent.glob(tables.name)}
    with av.open(str(showcase)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (1920, 1080)
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        duration = container.duration / 1e6
        assert 4 <= duration <= 12  # the title card and the 2 s clips 12 s of montage holds, for a 10 s target
        frames = sum(1 for _ in container.decode(video=0))
        assert frames == pytest.approx(duration * float(video.average_rate), abs=2)


@pytest.mark.parametrize(("files", "manifest", "error"), [
    ({"notes.txt": b"no video"}, None, r"{dir}: no videos \(\.mp4 .*\) in this folder"),
    ({"a.mp4": b"x"}, {"options": {"target_duration_s": 3}},
     r"{dir}/manifest\.json: field 'options\.target_duration_s': must be between 10 and 600 seconds, got 3"),
    ({"a.mp4": b"x"}, {"videos": ["a.mp4", "b.mp4"]},
     r"{dir}/manifest\.json: field 'videos\[1\]': 'b\.mp4' is not a file"),
    ({"a.mp4": b"x"}, {"music": "song.mp3"}, r"{dir}/manifest\.json: field 'music': 'song\.mp3' is not a file"),
    ({"a.mp4": b"x", "manifest.json": b"{oops"}, None, r"{dir}/manifest\.json: field '\(file\)': not valid JSON"),
    ({"a.mp4": b"x", "one.mp3": b"x", "two.wav": b"x"}, None, r"{dir}: 2 music files \(one\.mp3, two\.wav\)"),
])
def test_bad_footage_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], files: dict[str, bytes],
                                           manifest: dict | None, error: str) -> None:
    footage = tmp_path / "footage"
    footage.mkdir()
    for name, data in files.items():
        (footage / name).write_bytes(data)
    if manifest is not None:
        (footage / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REDAG_STORE_ROOT", str(tmp_path / "store"))
    assert main(["--footage", str(footage)]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"scripts/demo: error: " + error.format(dir=re.escape(str(footage))) + r"[^\n]*\n", err)
    assert not (tmp_path / "store" / "uploads").exists()


def test_missing_footage_folder_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REDAG_STORE_ROOT", str(tmp_path / "store"))
    assert main(["--footage", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err == f"scripts/demo: error: {tmp_path / 'nowhere'}: no such folder\n"
