"""The embedded home the demo writes enables run monitoring: a real dagster-daemon marks a run whose
worker was SIGKILLed as failed, instead of leaving it STARTED for ever.

Dagster's default run launcher cannot ask whether a run's worker is alive, so the daemon finds a
dead run by its runtime (``max_runtime_seconds`` in the home, 3600 s; this run carries Dagster's
per-run ``dagster/max_runtime_seconds`` tag of 5 s so the test takes seconds, not an hour).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef

from real_estate_dag.demo import HOME_CONFIG, write_home_config

WORKER = '''
import sys, time
from dagster import DagsterInstance, job, op

@op
def render_for_a_long_time():
    time.sleep(600)

@job
def long_job():
    render_for_a_long_time()

if __name__ == "__main__":
    with DagsterInstance.get() as instance:
        long_job.execute_in_process(instance=instance, tags={"dagster/max_runtime_seconds": sys.argv[1]})
'''


def test_the_demo_home_config_is_written_once_and_enables_run_monitoring(tmp_path: Path) -> None:
    config = write_home_config(tmp_path / "home")
    settings = yaml.safe_load(config.read_text())
    assert settings["run_monitoring"]["enabled"] is True
    assert settings["run_monitoring"]["poll_interval_seconds"] <= 30
    assert settings["run_monitoring"]["max_runtime_seconds"] == 3600
    config.write_text("telemetry:\n  enabled: false\n")  # the user's own settings are kept
    assert write_home_config(tmp_path / "home").read_text() == "telemetry:\n  enabled: false\n"


def test_a_run_whose_worker_was_killed_is_marked_failed_by_the_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert write_home_config(home).read_text() == HOME_CONFIG  # as the demo writes it
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    worker = subprocess.Popen([sys.executable, str(script), "5"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    deadline = time.monotonic() + 60
    while not [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]:
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    [run] = instance.get_runs()
    assert run.status == DagsterRunStatus.STARTED  # dead, and nobody has noticed yet

    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-f", str(script)],
                              env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 75
        while instance.get_run_by_id(run.run_id).status != DagsterRunStatus.FAILURE:
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)
        log.close()
    messages = [e.message for e in instance.all_logs(run.run_id) if e.message]
    assert any("Exceeded maximum runtime of 5 seconds" in m or "forcibly marked as failed" in m for m in messages)
