"""A fault-injecting HTTP proxy on loopback, in front of moto's S3 server.

Every request is forwarded unchanged (method, path and query byte for byte, headers including Host,
body), so SigV4-signed requests and presigned URLs work as if sent to the server itself. ``fail``
makes the next N matching requests fail the way S3 does under trouble: 503 SlowDown, 500
InternalError, or a connection closed without any response.
"""

import contextlib
import http.client
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# not forwarded: they describe one connection; Expect because the proxy answered "100 Continue" itself
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "expect"}
_ERRORS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}
KINDS = (*_ERRORS, "drop")


@dataclass
class Rule:
    kind: str
    remaining: int
    method: str | None
    pattern: re.Pattern[str] | None

    def matches(self, method: str, target: str) -> bool:
        return (self.remaining > 0 and (self.method is None or self.method == method)
                and (self.pattern is None or self.pattern.search(target) is not None))


@dataclass
class Traffic:
    """What the proxy saw: each request's method, target (path and query) and outcome."""

    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def injected(self, kind: str | None = None) -> int:
        return sum(1 for _, _, outcome in self.requests if outcome != "forwarded" and kind in (None, outcome))

    def forwarded(self) -> int:
        return sum(1 for _, _, outcome in self.requests if outcome == "forwarded")

    def to(self, method: str, pattern: str) -> list[str]:
        """Outcomes of the requests with ``method`` whose target matches ``pattern``, in order."""
        return [outcome for m, target, outcome in self.requests if m == method and re.search(pattern, target)]


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.traffic = Traffic()
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, count: int, kind: str = "slowdown", method: str | None = None, pattern: str | None = None) -> None:
        """Fail the next ``count`` requests with ``method`` (any when None) whose path and query match
        the regular expression ``pattern`` (any when None)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        with self._lock:
            self._rules.append(Rule(kind, count, method.upper() if method else None,
                                    re.compile(pattern) if pattern else None))

    def pending(self) -> int:
        """Faults armed but not yet injected."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    def heal(self) -> None:
        with self._lock:
            self._rules.clear()

    def _decide(self, method: str, target: str) -> str:
        with self._lock:
            rule = next((r for r in self._rules if r.matches(method, target)), None)
            outcome = "forwarded"
            if rule is not None:
                rule.remaining -= 1
                outcome = rule.kind
            self.traffic.requests.append((method, target, outcome))
            return outcome

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def _body(self) -> bytes:
            if "Transfer-Encoding" in self.headers:  # botocore sends Content-Length to plain-HTTP endpoints
                raise NotImplementedError("the fault proxy forwards Content-Length bodies only")
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _relay(self) -> None:
            body = self._body()  # read first, so the client has sent everything before any fault
            outcome = proxy._decide(self.command, self.path)
            if outcome == "drop":
                self.close_connection = True  # no status line, no headers: the socket just closes
                return
            if outcome in _ERRORS:
                status, code, message = _ERRORS[outcome]
                xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}'
                       f"</Message><RequestId>fault-proxy</RequestId></Error>").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(xml)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(xml)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                # Host as the client sent it: what the signature covers
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP and (self.command == "HEAD" or name.lower() != "content-length"):
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                upstream.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _relay

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
