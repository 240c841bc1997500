"""The CLI and client without the pipeline's webserver: settings, manifests, uploads, formatting, unreachable
servers, a code location that did not load."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dagster_server import REPO, dagster_server, free_port

from real_estate_dag.assets.common import markdown_table
from real_estate_dag.cli import build_parser, progress_line, text_table
from real_estate_dag.client import queries
from real_estate_dag.client.endpoint import ClientError, Endpoint
from real_estate_dag.client.showcase import RunProgress, markdown_table_rows, metadata_value
from real_estate_dag.client.upload import build_manifest, upload_property
from real_estate_dag.resources.store import LocalStore


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "real_estate_dag.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_endpoint_flags_override_environment() -> None:
    environ = {"REDAG_DAGSTER_URL": "https://dagster.example.com/tools/dagster/",
               "REDAG_DAGSTER_HEADERS": "Authorization: Bearer abc\nX-Team: media"}
    endpoint = Endpoint.from_settings(environ=environ)
    assert endpoint.base_url == "https://dagster.example.com/tools/dagster"
    assert endpoint.headers == {"Authorization": "Bearer abc", "X-Team": "media"}

    endpoint = Endpoint.from_settings(host="10.0.0.5", port=3001, tls=False, headers=["X-Team: ops"], environ=environ)
    assert endpoint.base_url == "http://10.0.0.5:3001/tools/dagster"
    assert endpoint.headers["X-Team"] == "ops" and endpoint.headers["Authorization"] == "Bearer abc"

    assert Endpoint.from_settings(environ={}).base_url == "http://127.0.0.1:3000"
    assert Endpoint.from_settings("dagster.internal:8080", environ={}).base_url == "http://dagster.internal:8080"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"headers": ["no colon here"]}, "is not a 'Name: value' header"),
    ({"url": "ftp://host"}, r"is not an http\(s\) URL"),
    ({"url": "http://host:99999"}, "out of range"),
])
def test_endpoint_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ClientError, match=message):
        Endpoint.from_settings(environ={}, **kwargs)


def test_parser_takes_connection_flags_after_the_command() -> None:
    args = build_parser().parse_args(["status", "oak-st", "--watch", "--port", "3001", "--tls",
                                      "--header", "A: b", "--header", "C: d"])
    assert (args.target, args.watch, args.port, args.tls, args.header) == ("oak-st", True, 3001, True,
                                                                          ["A: b", "C: d"])
    assert build_parser().parse_args(["rerun", "oak-st"]).from_asset == "property_manifest"
    assert build_parser().parse_args(["rerun", "oak-st", "--from", "selected_clips"]).from_asset == "selected_clips"


def test_progress_line_shows_finished_over_total_and_the_current_step() -> None:
    run = RunProgress(run_id="0123456789ab", status="STARTED", job="showcase_job", partition="oak-st",
                      steps=("a", "b", "c", "d"), finished=("a",), running=("b", "c"), failed=(),
                      start_time=10.0, end_time=None)
    line = progress_line(run)
    assert line.startswith("run 01234567 oak-st STARTED ")
    assert "[######------------------] 1/4 steps  now: b, c" in line
    done = RunProgress(run_id="0123456789ab", status="SUCCESS", job="showcase_job", partition="oak-st",
                       steps=("a", "b"), finished=("a", "b"), running=(), failed=(), start_time=10.0, end_time=52.5)
    assert progress_line(done).endswith("[########################] 2/2 steps  in 42.5 s")


def test_markdown_tables_from_asset_metadata_read_back_as_rows() -> None:
    rows = [{"order": 1, "video": "a|b.mp4", "score": 0.5}, {"order": 2, "video": "c.mp4", "score": 0.25}]
    text = "A heading\n\n" + markdown_table(rows).value + "\n\ntrailing prose"
    assert markdown_table_rows(text) == [{"order": "1", "video": "a|b.mp4", "score": "0.500"},
                                         {"order": "2", "video": "c.mp4", "score": "0.250"}]
    assert markdown_table_rows("no table | here") is None
    assert text_table([{"a": 1.5, "b": "file:///" + "x" * 60}, {"a": "![img](data:image/png;base64,AAAA)"}]) == [
        "  a        b",
        "  1.5      file:///" + "x" * 60,
        "  (image)",
    ]


def test_every_graphql_document_is_valid_for_the_installed_dagster() -> None:
    from dagster_graphql.schema import create_schema
    from graphql import parse, validate

    schema = create_schema().graphql_schema
    documents = {name: text for name, text in vars(queries).items() if name.isupper() and name != "RUN_FIELDS"}
    assert {"LAUNCH_RUN", "TERMINATE_RUN", "RUN_LOGS", "LATEST_MATERIALIZATIONS"} <= documents.keys()
    errors = {name: [e.message for e in validate(schema, parse(text))] for name, text in documents.items()}
    assert errors == {name: [] for name in documents}


def test_table_metadata_reads_as_rows_in_schema_order() -> None:
    entry = {"__typename": "TableMetadataEntry", "label": "edit_decision_list",
             "table": {"schema": {"columns": [{"name": "order"}, {"name": "video"}, {"name": "in_s"}]},
                       "records": ['{"in_s": 1.5, "video": "a|b.mp4", "order": 0}', '{"video": "c.mp4", "order": 1}']}}
    rows = metadata_value(entry)
    assert rows == [{"order": 0, "video": "a|b.mp4", "in_s": 1.5}, {"order": 1, "video": "c.mp4"}]
    assert [list(r) for r in rows] == [["order", "video", "in_s"], ["order", "video"]]
    assert text_table(rows) == ["  order  video    in_s", "  0      a|b.mp4  1.5", "  1      c.mp4"]


def test_build_manifest_errors_name_the_flag_or_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no video")
    with pytest.raises(ClientError, match="no videos"):
        build_manifest("oak", tmp_path)
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "song.exe").write_bytes(b"x")
    (tmp_path / "listing.json").write_text("{oops")
    with pytest.raises(ClientError, match=r"--music .*song\.exe: must end with one of"):
        build_manifest("oak", tmp_path, music=tmp_path / "song.exe")
    with pytest.raises(ClientError, match=r"--listing .*listing\.json: not valid JSON"):
        build_manifest("oak", tmp_path, listing=tmp_path / "listing.json")
    with pytest.raises(ClientError, match=r"field 'options\.target_duration_s': must be between 10 and 600"):
        build_manifest("oak", tmp_path, target_duration_s=3)
    with pytest.raises(ClientError, match="without slashes"):
        build_manifest("../oak", tmp_path)
    with pytest.raises(ClientError, match="it names the upload folder, so at most 255"):
        build_manifest("é" * 128, tmp_path)
    (tmp_path / "listing.json").write_text(json.dumps({"price": "cheap"}))
    with pytest.raises(ClientError, match=r"uploads/oak/manifest\.json: field 'listing\.price'"):
        build_manifest("oak", tmp_path, listing=tmp_path / "listing.json")


def test_upload_copies_videos_and_music_then_writes_the_manifest(tmp_path: Path, music_track: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "b.mov").write_bytes(b"second video")
    (source / "a.mp4").write_bytes(b"first video")
    (source / "readme.txt").write_text("ignored")
    (tmp_path / "listing.json").write_text(json.dumps({"address": "12 Oak St, Unit 5", "price": 500000}))
    store_root = tmp_path / "store"
    upload = upload_property(LocalStore(root=str(store_root)), "12 Oak St, Unit 5", source, music=music_track,
                             listing=tmp_path / "listing.json", target_duration_s=20)
    folder = store_root / "uploads" / "12 Oak St, Unit 5"
    assert upload.key.startswith("12-oak-st-unit-5-")
    assert upload.files[-1] == "uploads/12 Oak St, Unit 5/manifest.json"
    assert sorted(p.name for p in folder.iterdir()) == ["a.mp4", "b.mov", "manifest.json", "music.m4a"]
    assert (folder / "music.m4a").read_bytes() == music_track.read_bytes()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == {"property_id": "12 Oak St, Unit 5", "videos": ["a.mp4", "b.mov"], "launch": "client",
                        "music": "music.m4a", "listing": {"address": "12 Oak St, Unit 5", "price": 500000},
                        "options": {"target_duration_s": 20}}
    newest_media = max((folder / n).stat().st_mtime_ns for n in ("a.mp4", "b.mov", "music.m4a"))
    assert (folder / "manifest.json").stat().st_mtime_ns >= newest_media


def test_unreachable_webserver_is_one_clear_line_and_copies_nothing(tmp_path: Path, short_clip: Path) -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "REDAG_STORE_ROOT": str(tmp_path / "store"),
           "REDAG_DAGSTER_URL": f"http://127.0.0.1:{port}"}
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "walk.mp4").write_bytes(short_clip.read_bytes())
    for args in (["status", "oak-st"], ["submit", str(tmp_path / "upload"), "--property-id", "oak-st"]):
        done = run_cli(*args, env=env)
        assert done.returncode == 1, done
        assert done.stderr == (f"real-estate-dag: error: cannot reach the Dagster webserver at "
                               f"http://127.0.0.1:{port}: Connection refused\n")
    assert not (tmp_path / "store").exists()

    done = run_cli("submit", str(tmp_path / "upload"), "--property-id", "oak-st", "--no-launch", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "store/uploads/oak-st/manifest.json").is_file()
    assert json.loads((tmp_path / "store/uploads/oak-st/manifest.json").read_text())["launch"] == "sensor"


def test_a_code_location_that_failed_to_load_is_named_with_its_error(tmp_path: Path, short_clip: Path) -> None:
    (tmp_path / "broken.py").write_text('raise ValueError("REDAG_MAX_FILE_MIB: \'lots\' is not a number")\n')
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_file:\n      relative_path: broken.py\n      location_name: real_estate_dag\n")
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "walk.mp4").write_bytes(short_clip.read_bytes())
    with dagster_server(tmp_path / "home", tmp_path / "store", workspace=tmp_path / "workspace.yaml",
                        require_loaded=False) as server:
        done = run_cli("submit", str(tmp_path / "upload"), "--property-id", "oak-st",
                       env={**server.env, "REDAG_DAGSTER_URL": server.url})
    assert done.returncode == 1, done
    assert done.stderr == (f"real-estate-dag: error: no code location on {server.url} has a job named showcase_job; "
                           "code location 'real_estate_dag' failed to load: ValueError: REDAG_MAX_FILE_MIB: "
                           "'lots' is not a number\n")
    assert not (tmp_path / "store").exists()


def test_models_command_prefetches_then_verifies_digests(tmp_path: Path) -> None:
    target = tmp_path / "models"
    fetched = run_cli("models", "--target", str(target))
    assert fetched.returncode == 0, fetched.stderr
    assert "transnetv2" in fetched.stdout and (target / "manifest.json").is_file()
    assert run_cli("models", "--target", str(target), "--verify").returncode == 0
    weights = next(p for p in target.rglob("*") if p.is_file() and p.name != "manifest.json")
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    broken = run_cli("models", "--target", str(target), "--verify")
    assert broken.returncode == 1 and weights.name in broken.stderr


def test_unknown_flags_are_refused_outside_the_models_command() -> None:
    result = run_cli("status", "run-1", "--bogus")
    assert result.returncode == 2 and "unrecognized arguments: --bogus" in result.stderr
