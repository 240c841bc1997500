"""deploy/proxy/dagster.conf run for real: nginx with basic auth in front of a real dagster-webserver."""

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from dagster_server import REPO, dagster_server, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
USER, PASSWORD = "alice", "correct horse battery staple"


def ssha(password: str) -> str:
    """An htpasswd {SSHA} entry (salted SHA-1, understood by nginx), made without apache2-utils."""
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("proxy")
    with dagster_server(tmp / "home", tmp / "store") as server:
        port = free_port()
        (tmp / "htpasswd").write_text(f"{USER}:{ssha(PASSWORD)}\n")
        site = (REPO / "deploy/proxy/dagster.conf").read_text()
        for old, new in (("listen 8080;", f"listen 127.0.0.1:{port};"),
                         ("server 127.0.0.1:3000;", f"server 127.0.0.1:{server.port};"),
                         ("/etc/nginx/dagster.htpasswd", str(tmp / "htpasswd"))):
            assert old in site
            site = site.replace(old, new)
        (tmp / "dagster.conf").write_text(site)
        temp_paths = "\n".join(f"  {kind}_temp_path {tmp}/{kind};" for kind in
                               ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (tmp / "nginx.conf").write_text(
            f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
            + ("user root;\n" if os.geteuid() == 0 else "")
            + f"events {{}}\nhttp {{\n  access_log {tmp}/access.log;\n{temp_paths}\n"
            f"  include {tmp}/dagster.conf;\n}}\n")
        command = [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")]
        subprocess.run([*command, "-t"], check=True, capture_output=True)
        nginx = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline and nginx.poll() is None, (tmp / "error.log").read_text()
                    time.sleep(0.2)
            yield url
        finally:
            nginx.terminate()
            nginx.wait(timeout=20)


def get(url: str, auth: tuple[str, str] | None = None, body: bytes | None = None) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/json"} if body else {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_without_credentials_the_webserver_is_unreachable(proxy: str) -> None:
    status, headers, _ = get(f"{proxy}/server_info")
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="Dagster"'
    assert get(f"{proxy}/graphql", body=b'{"query": "{ version }"}')[0] == 401
    assert get(f"{proxy}/server_info", auth=(USER, "wrong"))[0] == 401


def test_with_credentials_the_ui_and_graphql_work(proxy: str) -> None:
    status, _, body = get(f"{proxy}/server_info", auth=(USER, PASSWORD))
    assert status == 200 and "dagster_webserver_version" in json.loads(body)
    status, _, body = get(f"{proxy}/graphql", auth=(USER, PASSWORD),
                          body=json.dumps({"query": "{ version }"}).encode())
    assert status == 200 and json.loads(body)["data"]["version"]
    status, _, body = get(f"{proxy}/", auth=(USER, PASSWORD))
    assert status == 200 and b"<html" in body.lower()


def test_websockets_pass_through_for_subscriptions(proxy: str) -> None:
    host, port = proxy.removeprefix("http://").split(":")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall((f"GET /graphql HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Protocol: graphql-ws\r\nAuthorization: Basic {token}\r\n\r\n").encode())
        status_line = sock.recv(1024).split(b"\r\n")[0]
    assert status_line == b"HTTP/1.1 101 Switching Protocols"
