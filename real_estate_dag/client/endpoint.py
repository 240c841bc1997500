"""Where the Dagster webserver is and how to talk to it: URL, TLS, extra headers, raw GraphQL."""

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

DEFAULT_URL = "http://127.0.0.1:3000"
URL_ENV = "REDAG_DAGSTER_URL"
HEADERS_ENV = "REDAG_DAGSTER_HEADERS"


class ClientError(RuntimeError):
    """An expected failure with a message meant for a person (no traceback needed)."""


class WebserverUnreachableError(ClientError):
    pass


class NotFoundError(ClientError):
    """No such run, property or asset."""


def parse_header(text: str, source: str = "--header") -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or " " in name.strip():
        raise ClientError(f"{source}: {text!r} is not a 'Name: value' header")
    return name.strip(), value.strip()


@dataclass(frozen=True)
class Endpoint:
    """A Dagster webserver: ``base_url`` like ``https://dagster.example.com:443/prefix``."""

    scheme: str = "http"
    host: str = "127.0.0.1"
    port: int | None = 3000
    path_prefix: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 30.0

    @classmethod
    def from_settings(
        cls,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        tls: bool | None = None,
        headers: Iterable[str] = (),
        environ: Mapping[str, str] = os.environ,
    ) -> "Endpoint":
        """Flags win over the environment (REDAG_DAGSTER_URL, REDAG_DAGSTER_HEADERS), which wins over defaults."""
        raw = url or environ.get(URL_ENV) or DEFAULT_URL
        parts = urlsplit(raw if "://" in raw else f"http://{raw}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"{raw!r} is not an http(s) URL of a Dagster webserver")
        try:
            url_port = parts.port
        except ValueError as exc:
            raise ClientError(f"{raw!r}: {exc}") from exc
        scheme = ("https" if tls else "http") if tls is not None else parts.scheme
        env_headers = [line for line in environ.get(HEADERS_ENV, "").splitlines() if line.strip()]
        merged = dict(parse_header(line, HEADERS_ENV) for line in env_headers)
        merged.update(parse_header(h) for h in headers)
        return cls(scheme=scheme, host=host or parts.hostname, port=port if port is not None else url_port,
                   path_prefix=parts.path.rstrip("/"), headers=merged)

    @property
    def base_url(self) -> str:
        netloc = f"{self.host}:{self.port}" if self.port else self.host
        return f"{self.scheme}://{netloc}{self.path_prefix}"

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST one GraphQL document; returns ``data`` or raises ClientError with a one-line reason."""
        try:
            response = requests.post(f"{self.base_url}/graphql", json={"query": query, "variables": variables or {}},
                                     headers=dict(self.headers), timeout=self.timeout_s)
        except requests.ConnectionError as exc:
            raise WebserverUnreachableError(
                f"cannot reach the Dagster webserver at {self.base_url}: {connection_reason(exc)}") from exc
        except requests.Timeout as exc:
            raise WebserverUnreachableError(
                f"the Dagster webserver at {self.base_url} did not answer within {self.timeout_s:g} s") from exc
        if response.status_code in (401, 403, 407):
            raise ClientError(f"the Dagster webserver at {self.base_url} refused the request with HTTP "
                              f"{response.status_code} {response.reason} (an auth proxy? pass --header or "
                              f"{HEADERS_ENV})")
        try:
            body = response.json()
        except ValueError as exc:
            raise ClientError(f"{self.base_url}/graphql answered HTTP {response.status_code} without JSON; "
                              "is this a Dagster webserver?") from exc
        if body.get("errors"):
            raise ClientError(f"GraphQL error from {self.base_url}: {body['errors'][0].get('message')}")
        if not response.ok or "data" not in body:
            raise ClientError(f"{self.base_url}/graphql answered HTTP {response.status_code}")
        return body["data"]


def connection_reason(exc: requests.ConnectionError) -> str:
    """The useful tail of a requests connection error (``Connection refused``, a DNS failure...)."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text) or re.search(r"(Name or service not known|"
                                                                        r"certificate verify failed[^'\")]*)", text)
    return match.group(1).strip() if match else "connection failed"
