"""A real dagster-webserver (and, when asked, dagster-daemon) on loopback for tests.

Usage:
    with dagster_server(home, store_root) as server:
        server.url          # http://127.0.0.1:<port>
        server.graphql(query, variables)
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from real_estate_dag.client.queries import LOCATIONS
from real_estate_dag.client.showcase import location_problems

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class DagsterServer:
    url: str
    port: int
    home: Path
    env: dict[str, str]
    log_dir: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.log_dir.glob("*.log")))


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError(f"dagster-webserver did not answer within {timeout_s:.0f} s:\n{log.read_text()}")


def _load_errors(server: "DagsterServer", timeout_s: float) -> list[str]:
    """The code locations that did not load, with Dagster's error, once none is still loading."""
    deadline = time.monotonic() + timeout_s
    while True:
        entries = server.graphql(LOCATIONS)["data"]["workspaceOrError"]["locationEntries"]
        if all(e["loadStatus"] != "LOADING" for e in entries) or time.monotonic() > deadline:
            return location_problems(entries)
        time.sleep(0.5)


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def dagster_server(home: Path, store_root: Path, *, daemon: bool = False, extra_env: dict[str, str] | None = None,
                   timeout_s: float = 180, workspace: Path = REPO / "workspace.yaml",
                   require_loaded: bool = True) -> Iterator[DagsterServer]:
    """Start dagster-webserver for ``workspace`` (this repo's) with DAGSTER_HOME=home (created if missing);
    unless ``require_loaded`` is False, fails with Dagster's error when a code location did not load."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    log_dir = home / "logs"
    log_dir.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "REDAG_STORE_ROOT": str(store_root),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           **(extra_env or {})}
    with ExitStack() as stack:
        if daemon:
            stack.enter_context(_process([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env,
                                         log_dir / "daemon.log"))
        webserver_log = log_dir / "webserver.log"
        webserver = stack.enter_context(_process(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)], env,
            webserver_log))
        _wait_ready(url, webserver, webserver_log, timeout_s)
        server = DagsterServer(url=url, port=port, home=home, env=env, log_dir=log_dir)
        if require_loaded and (errors := _load_errors(server, timeout_s)):
            raise RuntimeError("\n".join([*errors, server.logs()]))
        yield server
