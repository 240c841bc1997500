"""The CLI against a real dagster-webserver and dagster-daemon on loopback: submit -> status --watch -> result,
rerun from one asset, a failing upload, cancel of a sensor-launched run, unknown properties, an auth proxy."""

import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest
from dagster import AssetMaterialization, DagsterInstance, MetadataValue, TableColumn, TableRecord, TableSchema
from dagster import materialize as materialize_in_process
from dagster_server import REPO, DagsterServer, dagster_server
from failing_assets import EXPECTED_REASONS, FAILING_ASSETS
from media_helpers import ffmpeg

from real_estate_dag.client import Endpoint, ShowcaseClient

WATCH_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterServer]:
    base = tmp_path_factory.mktemp("cli_e2e")
    with dagster_server(base / "home", base / "store", daemon=True) as running:
        yield running


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory, source_video: Path) -> Path:
    """A folder with one 6 s walkthrough cut from the real footage."""
    folder = tmp_path_factory.mktemp("walkthrough")
    ffmpeg("-ss", "20", "-i", str(source_video), "-t", "6", "-c:v", "libx264", "-preset", "veryfast",
           "-c:a", "aac", str(folder / "walk.mp4"))
    return folder


def cli(server: DagsterServer, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    environ = {**server.env, "REDAG_DAGSTER_URL": server.url, **env}
    return subprocess.run([sys.executable, "-m", "real_estate_dag.cli", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stderr == ""
    return done.stdout


def launched_run(stdout: str) -> str:
    match = re.search(r"^launched run ([0-9a-f-]{36})", stdout, re.M)
    assert match, stdout
    return match.group(1)


def runs_of(server: DagsterServer, key: str) -> list[dict]:
    query = """query($key: String!) { runsOrError(filter: {tags: [{key: "dagster/partition", value: $key}]}) {
      ... on Runs { results { runId status tags { key value } assetSelection { path } } } } }"""
    return server.graphql(query, {"key": key})["data"]["runsOrError"]["results"]


@pytest.fixture(scope="module")
def submitted(server: DagsterServer, walkthrough: Path) -> dict:
    """One property submitted through the CLI and followed to the end."""
    started = time.monotonic()
    submit = ok(cli(server, "submit", str(walkthrough), "--property-id", "oak-st", "--target-duration", "10"))
    run_id = launched_run(submit)
    watch = cli(server, "status", "oak-st", "--watch", "--interval", "1", timeout=WATCH_TIMEOUT_S)
    print(f"submit + watch took {time.monotonic() - started:.0f} s")
    return {"submit": submit, "run_id": run_id, "watch": watch}


def test_submit_watch_and_result(server: DagsterServer, submitted: dict) -> None:
    run_id = submitted["run_id"]
    assert f"{server.url}/runs/{run_id}" in submitted["submit"]
    assert "uploaded 2 files to uploads/oak-st (partition oak-st)" in submitted["submit"]
    watch = ok(submitted["watch"])
    lines = watch.splitlines()
    assert lines[-1].startswith(f"run {run_id[:8]} oak-st SUCCESS   [########################] 9/9 steps  in ")
    assert any(re.search(r"\] [1-8]/9 steps  now: \w+", line) for line in lines), watch  # progress was seen

    store = Path(server.env["REDAG_STORE_ROOT"])
    assert (store / "uploads/oak-st/walk.mp4").is_file()
    result = ok(cli(server, "result", "oak-st"))
    showcase = store / f"results/oak-st/runs/{run_id}/showcase.mp4"
    assert "showcase_video (partition oak-st) materialised " in result
    assert f"by run {run_id}" in result
    assert re.search(rf"^\s+url\s+{re.escape(showcase.as_uri())}$", result, re.M), result
    assert re.search(r"^\s+resolution\s+1920x1080$", result, re.M), result
    header = next(line for line in result.splitlines() if line.strip().startswith("order"))
    assert header.split()[:4] == ["order", "video", "room", "in_s"]
    assert re.search(r"^\s+0\s+walk\.mp4\s+\w+\s+\d", result, re.M), result
    with av.open(str(showcase)) as container:
        assert container.streams.video[0].codec_context.width == 1920
        assert container.duration > 0

    # the manifest says "launch": "client", so the upload sensor (ticking every 15 s) added no second run
    [run] = runs_of(server, "oak-st")
    assert run["runId"] == run_id
    assert {"key": "redag/upload_folder", "value": "oak-st"} in run["tags"]
    assert f"run {run_id[:8]} oak-st SUCCESS" in ok(cli(server, "status", run_id))


def test_rerun_from_selected_clips(server: DagsterServer, submitted: dict) -> None:
    ok(submitted["watch"])
    rerun = ok(cli(server, "rerun", "oak-st", "--from", "selected_clips"))
    run_id = launched_run(rerun)
    assert "for selected_clips, showcase_video" in rerun
    watch = ok(cli(server, "status", run_id, "--watch", "--interval", "1", timeout=WATCH_TIMEOUT_S))
    assert watch.splitlines()[-1].startswith(f"run {run_id[:8]} oak-st SUCCESS   [########################] 2/2")
    [run] = [r for r in runs_of(server, "oak-st") if r["runId"] == run_id]
    assert sorted(a["path"][-1] for a in run["assetSelection"]) == ["selected_clips", "showcase_video"]
    assert {"key": "redag/upload_folder", "value": "oak-st"} in run["tags"]
    result = ok(cli(server, "result", "oak-st"))
    assert result.count(f"by run {run_id}") == 2  # both assets now come from the rerun


def test_failed_run_says_which_step_and_why(server: DagsterServer, tmp_path: Path) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video")
    run_id = launched_run(ok(cli(server, "submit", str(tmp_path), "--property-id", "bad-st")))
    watch = cli(server, "status", "bad-st", "--watch", "--interval", "1", timeout=WATCH_TIMEOUT_S)
    assert watch.returncode == 1
    assert watch.stderr == (f"real-estate-dag: error: run {run_id} failed: step property_manifest: "
                            "uploads/bad-st/broken.mp4: not a readable media file (Invalid data found when "
                            "processing input)\n")
    assert "FAILURE" in watch.stdout.splitlines()[-1]


def test_status_gives_the_real_cause_and_result_reads_metadata_tables(server: DagsterServer) -> None:
    """A run written to the webserver's instance: one step ran out of retries on a full disk, one refused its
    input; and a property whose edit decision list is a MetadataValue.table."""
    instance = DagsterInstance.from_config(str(server.home))
    failed = materialize_in_process(FAILING_ASSETS, instance=instance, raise_on_error=False)
    assert not failed.success
    reason = ShowcaseClient(Endpoint.from_settings(server.url, environ={})).failure_reason(failed.run_id)
    assert sorted(reason.split("; ")) == [f"step {step}: {text}" for step, text in sorted(EXPECTED_REASONS.items())]
    status = ok(cli(server, "status", failed.run_id))
    assert f"failed: {reason}\n" in status and "max_retries" not in status

    instance.add_dynamic_partitions("property", ["table-st"])
    edl = MetadataValue.table(
        [TableRecord({"order": 0, "video": "hall|way.mp4", "room": "living", "in_s": 1.25}),
         TableRecord({"order": 1, "video": "kitchen.mp4", "room": "kitchen", "in_s": 0.5})],
        schema=TableSchema([TableColumn("order", "int"), TableColumn("video", "string"), TableColumn("room", "string"),
                            TableColumn("in_s", "float")]))
    for asset, metadata in (("showcase_video", {"url": MetadataValue.url("file:///r/showcase.mp4")}),
                            ("selected_clips", {"edit_decision_list": edl})):
        instance.report_runless_asset_event(AssetMaterialization(asset, partition="table-st", metadata=metadata))
    result = ok(cli(server, "result", "table-st"))
    table = (r"^\s+edit_decision_list:\n\s+order\s+video\s+room\s+in_s\n"
             r"\s+0\s+hall\|way\.mp4\s+living\s+1\.25\n\s+1\s+kitchen\.mp4\s+kitchen\s+0\.5$")
    assert re.search(table, result, re.M), result


def test_no_launch_leaves_the_run_to_the_sensor_and_cancel_stops_it(server: DagsterServer,
                                                                     walkthrough: Path) -> None:
    out = ok(cli(server, "submit", str(walkthrough), "--property-id", "elm-st", "--no-launch"))
    assert "launched run" not in out
    deadline = time.monotonic() + 120
    while not (runs := runs_of(server, "elm-st")):
        assert time.monotonic() < deadline, f"the sensor launched no run\n{server.logs()[-3000:]}"
        time.sleep(2)
    [run] = runs
    assert {"key": "dagster/sensor_name", "value": "local_upload_sensor"} in run["tags"]
    canceled = ok(cli(server, "cancel", run["runId"]))
    assert canceled.startswith(f"cancel requested for run {run['runId']}; now ")
    watch = cli(server, "status", "elm-st", "--watch", "--interval", "1", timeout=WATCH_TIMEOUT_S)
    assert watch.returncode == 1
    assert watch.stderr == f"real-estate-dag: error: run {run['runId']} was canceled\n"
    again = cli(server, "cancel", run["runId"])
    assert again.returncode == 1
    assert again.stderr == (f"real-estate-dag: error: run {run['runId']} already ended with status CANCELED; "
                            "nothing to cancel\n")


def test_unknown_property_run_and_asset(server: DagsterServer, submitted: dict) -> None:
    for command in (["status", "nope-st"], ["result", "nope-st"], ["rerun", "nope-st"]):
        done = cli(server, *command)
        assert (done.returncode, done.stderr) == (1, f"real-estate-dag: error: unknown property 'nope-st' on "
                                                     f"{server.url}\n")
    missing = "00000000-0000-0000-0000-000000000000"
    done = cli(server, "cancel", missing)
    assert (done.returncode, done.stderr) == (1, f"real-estate-dag: error: no run '{missing}' on {server.url}\n")
    done = cli(server, "rerun", "oak-st", "--from", "thumbnails")
    assert done.returncode == 1
    assert done.stderr.startswith("real-estate-dag: error: unknown asset 'thumbnails'; the showcase_job assets are ")


class AuthProxy(BaseHTTPRequestHandler):
    """An auth proxy in front of the webserver: needs a bearer token and serves under /dagster."""

    upstream = ""
    token = "Bearer s3cret"

    def do_POST(self) -> None:
        if self.headers.get("Authorization") != self.token:
            self.send_response(401, "Unauthorized")
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = urllib.request.Request(self.upstream + self.path.removeprefix("/dagster"), body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            data = response.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_headers_for_an_auth_proxy_from_flags_or_environment(server: DagsterServer, submitted: dict) -> None:
    ok(submitted["watch"])
    AuthProxy.upstream = server.url
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), AuthProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{proxy.server_port}/dagster"
    try:
        refused = cli(server, "status", "oak-st", "--url", url)
        assert refused.returncode == 1
        assert refused.stderr == (f"real-estate-dag: error: the Dagster webserver at {url} refused the request "
                                  "with HTTP 401 Unauthorized (an auth proxy? pass --header or "
                                  "REDAG_DAGSTER_HEADERS)\n")
        by_flag = ok(cli(server, "status", "oak-st", "--url", url, "--header", "Authorization: Bearer s3cret"))
        assert " oak-st SUCCESS " in by_flag and f"{url}/runs/" in by_flag
        by_env = ok(cli(server, "result", "oak-st", REDAG_DAGSTER_URL=url,
                        REDAG_DAGSTER_HEADERS="X-Other: 1\nAuthorization: Bearer s3cret"))
        assert re.search(r"^\s+resolution\s+1920x1080$", by_env, re.M), by_env
    finally:
        proxy.shutdown()
        proxy.server_close()
