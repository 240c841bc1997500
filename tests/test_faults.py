"""Fault tests: a run worker SIGKILLed mid-render and re-executed from failure, disk full during a
render (a real 1 MiB tmpfs) and a file size limit (RLIMIT_FSIZE), timeouts on decode and ffmpeg."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest
import requests
from boto3.exceptions import S3UploadFailedError
from dagster import (
    AssetExecutionContext,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    asset,
    materialize,
)
from dagster._core.instance.ref import InstanceRef
from media_helpers import SHOWCASE_ONLY, ffmpeg, write_upload

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.backends import SHOTS_KEY
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.decode import DecodeTimeoutError, decode_video
from real_estate_dag.ops.ffmpeg import FfmpegError, run_ffmpeg
from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.render import RenderClip, inspect_video, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_file, read_current
from real_estate_dag.resources.store import LocalStore
from real_estate_dag.retries import is_transient, transient_retries

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
KEY = "killed-prop"


@pytest.fixture(scope="module")
def clip12(short_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "clip12.mp4"
    ffmpeg("-i", str(short_clip), "-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out))
    return out


def step_starts(instance: DagsterInstance, run_id: str) -> list[str]:
    return [e.step_key for e in instance.all_logs(run_id) if e.dagster_event and
            e.dagster_event.event_type_value == "STEP_START"]


def test_a_run_killed_mid_render_keeps_the_previous_set_and_is_re_executed_from_failure(
    tmp_path: Path, clip12: Path
) -> None:
    home, root = tmp_path / "home", tmp_path / "store"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    write_upload(root, KEY, {"walk.mp4": clip12}, options={"target_duration_s": 10, **SHOWCASE_ONLY})
    env = {**os.environ, "DAGSTER_HOME": str(home), "REDAG_STORE_ROOT": str(root),
           "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    first = subprocess.run([sys.executable, str(TESTS / "run_job.py"), "run", KEY], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    store = LocalStore(root=str(root))
    published = {p: p.read_bytes() for p in sorted((root / "results" / KEY).rglob("*")) if p.is_file()}
    first_set = read_current(store, KEY)

    log = tmp_path / "worker.log"
    render_dir = root / "work" / KEY / "render"
    with log.open("w") as out:
        worker = subprocess.Popen([sys.executable, str(TESTS / "run_job.py"), "run", KEY], env=env, cwd=REPO,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 400
    while not list(render_dir.glob(".tmp-*")):  # ffmpeg has started writing the showcase
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its ffmpeg child, as when a pod dies
    worker.wait()

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    killed = instance.get_runs()[0]
    assert killed.status == DagsterRunStatus.STARTED  # nobody recorded the death yet
    instance.report_run_failed(killed, "run worker killed (SIGKILL)")  # what run monitoring does
    assert "showcase_video" in step_starts(instance, killed.run_id)
    # the killed run staged its tables, but readers still see the first run's set, byte for byte
    assert (root / "work" / KEY / "tables" / "clips.parquet").stat().st_mtime > first_set["published_at"]
    assert {p: p.read_bytes() for p in sorted((root / "results" / KEY).rglob("*")) if p.is_file()} == published
    partials = list(render_dir.glob(".tmp-*"))  # the pieces being encoded, or the showcase being joined
    assert partials

    rerun = subprocess.run([sys.executable, str(TESTS / "run_job.py"), "reexecute", killed.run_id], env=env,
                           cwd=REPO, capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    child = instance.get_runs()[0]
    assert child.status == DagsterRunStatus.SUCCESS and child.parent_run_id == killed.run_id
    assert step_starts(instance, child.run_id) == ["showcase_video"]  # finished steps are not redone
    current = read_current(store, KEY)
    assert current["run_id"] == child.run_id and current["previous_set_id"] == first_set["set_id"]
    showcase = inspect_video(store.path(current_file(store, KEY, "showcase.mp4")))
    assert (showcase.width, showcase.video_codec, showcase.audio_codec) == (1920, "h264", "aac")
    assert store.exists(first_set["files"]["showcase.mp4"]["key"])  # the previous set is kept
    # the killed render's temporary was cleared by the rerun: nothing of it holds disk space
    assert not any(p.exists() for p in partials) and not list(root.rglob(".tmp-*"))



def render_small(clip: Path, out: Path, tmp: Path) -> None:
    title = draw_title_card(Listing(address="1 Full Disk Rd"), "disk-full", (640, 360), tmp / "title.png")
    render_showcase([RenderClip(clip, 0.0, 6.0, True, 16 / 9)], title, out, (640, 360), title_s=2.0,
                    crossfade_s=0.5)


def test_disk_full_during_render_fails_clearly_and_keeps_the_previous_result(
    small_fs: Path, clip12: Path, tmp_path: Path
) -> None:
    previous = b"the previous good showcase" * 100
    (small_fs / "showcase.mp4").write_bytes(previous)
    with pytest.raises(FfmpegError, match="ffmpeg ran out of disk space writing its output"):
        render_small(clip12, small_fs / "showcase.mp4", tmp_path)
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "showcase.mp4"]  # no temporary left
    assert (small_fs / "showcase.mp4").read_bytes() == previous


def test_publishing_onto_a_full_disk_keeps_the_previous_result(small_fs: Path, clip12: Path) -> None:
    store = LocalStore(root=str(small_fs))
    store.write_bytes("results/p/showcase.mp4", b"previous")
    with pytest.raises(OSError, match="No space left on device"):
        store.publish(clip12, "results/p/showcase.mp4")
    assert store.read_bytes("results/p/showcase.mp4") == b"previous"
    assert [o.key for o in store.list_objects("results")] == ["results/p/showcase.mp4"]


def test_a_file_size_limit_during_render_fails_clearly(clip12: Path, tmp_path: Path) -> None:
    """The same failure without a mount: RLIMIT_FSIZE, inherited by the ffmpeg child."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(FfmpegError, match="exceeded the file size limit"):
            render_small(clip12, tmp_path / "out" / "showcase.mp4", tmp_path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert list((tmp_path / "out").iterdir()) == []


def test_decode_and_ffmpeg_have_wall_clock_budgets(clip12: Path, tmp_path: Path) -> None:
    with pytest.raises(DecodeTimeoutError, match=r"clip12.mp4: decoding did not finish within 0 s"):
        decode_video(clip12, "clip12.mp4", tmp_path / "frames", timeout_s=1e-6)
    started = time.monotonic()
    with pytest.raises(FfmpegError, match="did not finish within 1 s"):
        run_ffmpeg(["-f", "lavfi", "-re", "-i", "testsrc=duration=60", "-f", "null", "-"], timeout_s=1)
    assert time.monotonic() - started < 10


def test_the_analysis_and_the_selection_retry_only_through_transient_retries() -> None:
    nodes = {node.name: node for node in defs.resolve_implicit_global_asset_job_def().graph.node_defs}
    # manifest, the analysis pass, photos, music, narration, moderation, intro, selection, render
    assert len(nodes) == 9
    assert nodes["video_analysis"].retry_policy is None and nodes["selected_clips"].retry_policy is None


def client_error(code: str, status: int, operation: str = "PutObject") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def wrapped(cause: Exception) -> Exception:
    """``cause`` as boto3's upload manager reports it: chained behind an S3UploadFailedError."""
    try:
        raise cause
    except Exception as exc:
        try:
            raise S3UploadFailedError(f"Failed to upload: {exc}") from exc
        except S3UploadFailedError as outer:
            return outer


def test_transient_faults_are_told_apart_from_deterministic_ones() -> None:
    transient = [
        client_error("SlowDown", 503), client_error("InternalError", 500), client_error("Throttling", 400),
        wrapped(client_error("ServiceUnavailable", 503)),
        botocore.exceptions.ConnectionClosedError(endpoint_url="http://s3"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3"),
        botocore.exceptions.ReadTimeoutError(endpoint_url="http://s3"),
        requests.ConnectionError("connection reset"), ConnectionResetError(), TimeoutError("stalled"),
        DecodeTimeoutError("walk.mp4: decoding did not finish within 60 s"),
    ]
    deterministic = [
        client_error("NoSuchKey", 404, "GetObject"), client_error("AccessDenied", 403),
        wrapped(client_error("EntityTooLarge", 400)), ValueError("bad manifest"), FfmpegError("render failed"),
        RuntimeError("model error"), FileNotFoundError("gone.mp4"),
    ]
    assert [is_transient(e) for e in transient] == [True] * len(transient)
    assert [is_transient(e) for e in deterministic] == [False] * len(deterministic)


def step_events(result, step: str, *kinds: DagsterEventType) -> list[DagsterEventType]:
    return [e.event_type for e in result.all_events if e.step_key == step and e.event_type in kinds]


def test_a_model_error_fails_the_analysis_once(tmp_path: Path, tiny_clip: Path) -> None:
    """A corrupted weights file is a model error: the step fails on its first attempt with its message,
    instead of decoding again three times while it holds the GPU slot."""
    folder = tmp_path / "models"
    (folder / "shots").mkdir(parents=True)
    (folder / "shots/transnetv2.pth").write_bytes(b"truncated weights")
    (folder / "manifest.json").write_text(json.dumps({"entries": {SHOTS_KEY: {"source": "test", "files": [
        {"path": "shots/transnetv2.pth", "sha256": "0" * 64, "size": 17}]}}}))
    root = tmp_path / "store"
    write_upload(root, "bad-weights", {"walk.mp4": tiny_clip})
    store = LocalStore(root=str(root))
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("property", ["bad-weights"])
        result = materialize(
            list(defs.assets), partition_key="bad-weights", instance=instance, raise_on_error=False,
            selection=AssetSelection.assets("property_manifest", "video_frames", "shot_boundaries"),
            resources={"store": store, "models": ModelRegistry(device="cpu", models_dir=str(folder)),
                       "io_manager": StoreJsonIOManager(store=store), "limits": UploadLimits()})
    assert not result.success
    kinds = (DagsterEventType.STEP_START, DagsterEventType.STEP_UP_FOR_RETRY, DagsterEventType.STEP_RESTARTED,
             DagsterEventType.STEP_FAILURE)
    assert step_events(result, "video_analysis", *kinds) == [DagsterEventType.STEP_START,
                                                             DagsterEventType.STEP_FAILURE]
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "shots/transnetv2.pth does not match the sha256" in str(failure.event_specific_data.error.cause)


@pytest.fixture
def no_inodes(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs with no room for another file (out of inodes reports ENOSPC, as a full disk does)."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=2", "tmpfs", str(mount)], check=True)
    try:
        n = 0
        while True:
            try:
                (mount / f"filler{n}").touch()
            except OSError:
                break
            n += 1
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_fails_the_step_once_naming_the_file(no_inodes: Path) -> None:
    target = no_inodes / "shots.parquet"

    @asset
    def writes_a_table(context: AssetExecutionContext) -> None:
        with transient_retries(context):
            target.write_bytes(b"rows")

    result = materialize([writes_a_table], raise_on_error=False)
    kinds = (DagsterEventType.STEP_START, DagsterEventType.STEP_UP_FOR_RETRY, DagsterEventType.STEP_FAILURE)
    assert step_events(result, "writes_a_table", *kinds) == [DagsterEventType.STEP_START,
                                                             DagsterEventType.STEP_FAILURE]
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    data = failure.event_specific_data.user_failure_data
    assert data.description.startswith(f"{target}: the disk is full (No space left on device)")
