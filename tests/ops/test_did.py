"""The D-ID client against a loopback server that answers as D-ID's talks API documents: uploads, a
talk created (after a 429 with Retry-After), polled from created/started to done, errors, a deadline."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from real_estate_dag.ops.did import DidClient, DidError, DidTimeout

KEY = "dXNlcjpzZWNyZXQ="  # what D-ID's studio hands out: base64 of user:secret


class FakeDid:
    """State shared with the handler: the talks, what was asked, and which answers to give."""

    def __init__(self, clip: bytes) -> None:
        self.clip = clip
        self.requests: list[tuple[str, str, dict]] = []
        self.talks: dict[str, list[dict]] = {}  # talk id -> the answers its polls get, in order
        self.rate_limited = 1  # the next POST /talks answers this many 429s first
        self.script = "done"  # how the next talk ends: done, error, or never (pending forever)


def handler(fake: FakeDid, base: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Basic {KEY}":
                self._json(401, {"kind": "AuthorizationError", "description": "Unauthorized"})
                return False
            return True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.requests.append(("POST", self.path, {"type": self.headers.get("Content-Type"), "size": len(body)}))
            if not self._authorised():
                return
            if self.path in ("/images", "/audios"):
                field = "image" if self.path == "/images" else "audio"
                assert f'name="{field}"'.encode() in body
                self._json(201, {"id": f"{field}_1", "url": f"s3://d-id-{field}s-prod/{field}_1"})
            elif self.path == "/talks":
                if fake.rate_limited:
                    fake.rate_limited -= 1
                    self._json(429, {"kind": "TooManyRequestsError", "description": "rate limit"},
                               {"Retry-After": "1"})
                    return
                request = json.loads(body)
                if not request.get("source_url", "").startswith("s3://"):
                    self._json(400, {"kind": "ValidationError", "description": "source_url is invalid"})
                    return
                talk = f"tlk_{len(fake.talks) + 1}"
                pending = [{"id": talk, "status": "created"}, {"id": talk, "status": "started"}]
                final = {"done": {"id": talk, "status": "done", "duration": 2.0,
                                  "result_url": f"{base[0]}/results/{talk}.mp4?X-Amz-Signature=abc"},
                         "error": {"id": talk, "status": "error",
                                   "error": {"kind": "FaceError", "description": "no face detected in the image"}},
                         "never": None}[fake.script]
                fake.talks[talk] = [*pending, final] if final else pending
                self._json(201, {"id": talk, "object": "talk", "status": "created", "created_at": "2026-12-02"})
            else:
                self._json(404, {"kind": "NotFoundError", "description": "not found"})

        def do_GET(self) -> None:
            fake.requests.append(("GET", self.path, {}))
            if self.path.startswith("/results/"):
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(fake.clip)))
                self.end_headers()
                self.wfile.write(fake.clip)
                return
            if not self._authorised():
                return
            talk = self.path.removeprefix("/talks/")
            answers = fake.talks.get(talk)
            if answers is None:
                self._json(404, {"kind": "NotFoundError", "description": f"talk {talk} not found"})
                return
            self._json(200, answers.pop(0) if len(answers) > 1 else answers[0])

    return Handler


@pytest.fixture
def did(tiny_clip: Path) -> Iterator[tuple[FakeDid, str]]:
    fake, base = FakeDid(tiny_clip.read_bytes()), [""]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake, base))
    base[0] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, base[0]
    finally:
        server.shutdown()
        server.server_close()


def client(url: str, key: str = KEY) -> DidClient:
    return DidClient(key, url, backoff_s=0.05, max_delay_s=2.0)


def test_a_talk_is_created_after_a_rate_limit_polled_until_done_and_downloaded(did, tmp_path: Path,
                                                                               tiny_clip: Path) -> None:
    fake, url = did
    portrait = tmp_path / "agent.jpg"
    portrait.write_bytes(b"\xff\xd8 a jpeg")
    started = time.monotonic()
    talk = client(url).talking_head(portrait, tmp_path / "intro.mp4", text="Hi, I'm Mary.", deadline_s=10,
                                    poll_s=0.05)
    assert time.monotonic() - started >= 1.0  # the Retry-After of the 429 was honoured
    assert talk.id == "tlk_1" and talk.polls == 3 and talk.duration_s == 2.0
    assert (tmp_path / "intro.mp4").read_bytes() == tiny_clip.read_bytes()
    paths = [(m, p.split("?")[0]) for m, p, _ in fake.requests]
    assert paths == [("POST", "/images"), ("POST", "/talks"), ("POST", "/talks"), ("GET", "/talks/tlk_1"),
                     ("GET", "/talks/tlk_1"), ("GET", "/talks/tlk_1"), ("GET", "/results/tlk_1.mp4")]
    assert fake.requests[0][2]["type"].startswith("multipart/form-data")


def test_audio_is_uploaded_and_sent_as_the_script(did, tmp_path: Path) -> None:
    fake, url = did
    fake.rate_limited = 0
    portrait, audio = tmp_path / "agent.png", tmp_path / "voice.mp3"
    portrait.write_bytes(b"png")
    audio.write_bytes(b"mp3")
    client(url).talking_head(portrait, tmp_path / "intro.mp4", audio=audio, deadline_s=10, poll_s=0.01)
    assert [p for _, p, _ in fake.requests][:3] == ["/images", "/audios", "/talks"]


def test_a_failed_talk_a_bad_key_and_a_deadline_are_errors_with_d_id_s_reason(did, tmp_path: Path) -> None:
    fake, url = did
    fake.rate_limited = 0
    portrait = tmp_path / "agent.jpg"
    portrait.write_bytes(b"jpeg")
    fake.script = "error"
    with pytest.raises(DidError, match="tlk_1 error: no face detected in the image"):
        client(url).talking_head(portrait, tmp_path / "a.mp4", text="hi", deadline_s=10, poll_s=0.01)
    with pytest.raises(DidError, match="HTTP 401: Unauthorized"):
        client(url, key="wrong").talking_head(portrait, tmp_path / "b.mp4", text="hi", deadline_s=10)
    with pytest.raises(DidError, match="HTTP 400: source_url is invalid"):
        client(url).create_talk("https://elsewhere/agent.jpg", text="hi")
    fake.script = "never"
    with pytest.raises(DidTimeout, match=r"still started after 0\.5 s"):
        client(url).talking_head(portrait, tmp_path / "c.mp4", text="hi", deadline_s=0.5, poll_s=0.05)
    assert not list(tmp_path.glob("*.mp4"))
