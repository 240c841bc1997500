"""A client of D-ID's talks API: upload the portrait (and audio), create a talk, poll it, download the clip.

  POST /images (multipart ``image``)      -> 201 {"id", "url"}
  POST /audios (multipart ``audio``)      -> 201 {"id", "url"}
  POST /talks {"source_url", "script"}    -> 201 {"id", "status": "created", ...}
  GET  /talks/<id>                        -> 200 {"id", "status": created|started|done|error|rejected,
                                                  "result_url" (when done), "error": {"kind", "description"}}

Requests carry ``Authorization: Basic <API key>``. 429 and 5xx answers are retried under urllib3's
Retry (its backoff, or the server's Retry-After); polling backs off from ``poll_s`` to ``max_poll_s``
and gives up at ``deadline_s``.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from urllib3.util import Retry

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
PENDING = frozenset({"created", "started"})


class DidError(RuntimeError):
    """D-ID refused the request or the talk failed; the message holds D-ID's own reason."""


class DidTimeout(DidError):
    """The talk was not done by the deadline."""


@dataclass(frozen=True)
class Talk:
    id: str
    result_url: str
    duration_s: float | None
    polls: int


class DidClient:
    def __init__(self, api_key: str, base_url: str = "https://api.d-id.com", *, max_attempts: int = 5,
                 backoff_s: float = 0.5, max_delay_s: float = 30.0, timeout_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Basic {api_key}", "Accept": "application/json",
                        "User-Agent": "real-estate-dag-intro/1"}
        self.retries = Retry(
            total=max_attempts - 1, allowed_methods={"GET", "POST"}, status_forcelist=RETRYABLE_STATUS,
            backoff_factor=backoff_s, backoff_max=max_delay_s, respect_retry_after_header=True,
            retry_after_max=max_delay_s, raise_on_status=False, redirect=2)
        self.pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                                        retries=self.retries)
        self.sleep = sleep

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self.base_url + path
        try:
            response = self.pool.request(method, url, headers={**self.headers, **kwargs.pop("headers", {})},
                                         **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise DidError(f"D-ID {method} {path}: {type(exc).__name__}: {exc}") from exc
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            body = {"description": response.data[:200].decode(errors="replace")}
        if not 200 <= response.status < 300:
            reason = body.get("description") or body.get("message") or body.get("kind") or response.reason
            raise DidError(f"D-ID {method} {path}: HTTP {response.status}: {reason}")
        return body

    def upload(self, kind: str, path: Path, content_type: str) -> str:
        """Upload a portrait (``images``) or a narration (``audios``); the URL D-ID gives it."""
        field = "image" if kind == "images" else "audio"
        body = self._request("POST", f"/{kind}", fields={field: (path.name, path.read_bytes(), content_type)})
        return body["url"]

    def create_talk(self, source_url: str, *, text: str = "", audio_url: str = "", voice: str = "") -> str:
        if audio_url:
            script: dict[str, Any] = {"type": "audio", "audio_url": audio_url}
        else:
            script = {"type": "text", "input": text}
            if voice:
                script["provider"] = {"type": "microsoft", "voice_id": voice}
        body = self._request("POST", "/talks", body=json.dumps({"source_url": source_url, "script": script}),
                             headers={"Content-Type": "application/json"})
        return body["id"]

    def wait(self, talk_id: str, *, deadline_s: float, poll_s: float = 1.0, max_poll_s: float = 10.0) -> Talk:
        """Poll until the talk is done (its result URL) or failed (DidError), or the deadline passes."""
        deadline = time.monotonic() + deadline_s
        delay, polls = poll_s, 0
        while True:
            body = self._request("GET", f"/talks/{talk_id}")
            polls += 1
            status = body.get("status")
            if status == "done":
                return Talk(talk_id, body["result_url"], body.get("duration"), polls)
            if status not in PENDING:
                error = body.get("error") or {}
                raise DidError(f"D-ID talk {talk_id} {status}: {error.get('description') or error.get('kind') or ''}"
                               .rstrip(": "))
            if time.monotonic() + delay > deadline:
                raise DidTimeout(f"D-ID talk {talk_id} was still {status} after {deadline_s:g} s ({polls} polls)")
            self.sleep(delay)
            delay = min(max_poll_s, delay * 2)

    def download(self, url: str, out: Path) -> Path:
        response = self.pool.request("GET", url, preload_content=False)
        try:
            if response.status != 200:
                raise DidError(f"D-ID result {url.split('?')[0]}: HTTP {response.status}")
            tmp = out.with_name(f".tmp-{out.name}")
            with tmp.open("wb") as f:
                for chunk in response.stream(1 << 16):
                    f.write(chunk)
            tmp.replace(out)
        finally:
            response.release_conn()
        return out

    def talking_head(self, portrait: Path, out: Path, *, text: str = "", audio: Path | None = None,
                     deadline_s: float = 300.0, poll_s: float = 1.0) -> Talk:
        """The whole exchange: the portrait (and audio) uploaded, the talk made, its clip saved to ``out``."""
        content_type = "image/png" if portrait.suffix.lower() == ".png" else "image/jpeg"
        source_url = self.upload("images", portrait, content_type)
        audio_url = self.upload("audios", audio, "audio/mpeg") if audio else ""
        talk = self.wait(self.create_talk(source_url, text=text, audio_url=audio_url), deadline_s=deadline_s,
                         poll_s=poll_s)
        self.download(talk.result_url, out)
        return talk
