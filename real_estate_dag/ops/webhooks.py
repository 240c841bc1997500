"""Webhook events: a JSON body, its HMAC-SHA256 signature, and delivery with bounded retries.

A receiver verifies ``X-Redag-Signature: sha256=<hex>`` as HMAC-SHA256(secret, "<timestamp>.<body>")
with the timestamp from ``X-Redag-Timestamp`` (reject old timestamps to stop replays), and drops
repeats of an ``Idempotency-Key`` it has already processed.
"""

import hashlib
import hmac
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Redag-Signature"
TIMESTAMP_HEADER = "X-Redag-Timestamp"
EVENT_HEADER = "X-Redag-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def event_payload(
    *,
    status: str,
    run_id: str,
    job_name: str,
    partition_key: str | None,
    property_id: str | None,
    result_urls: Mapping[str, str],
    error: str | None,
    finished_at: float,
) -> dict[str, Any]:
    """The JSON event for one finished property run; ``status`` is ``succeeded`` or ``failed``."""
    return {
        "event": f"property.run.{status}",
        "status": status,
        "property_key": partition_key,
        "property_id": property_id,
        "run_id": run_id,
        "job_name": job_name,
        "result_urls": dict(result_urls),
        "error": error,
        "finished_at": finished_at,
    }


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does with the signature header (constant-time comparison)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def signed_headers(secret: str, body: bytes, idempotency_key: str, event: str, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json",
        "User-Agent": "real-estate-dag-webhooks/1",
        EVENT_HEADER: event,
        IDEMPOTENCY_HEADER: idempotency_key,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: a random delay in [d/2, d] with d = min(max_s, base_s * 2^attempt)."""
    ceiling = min(max_s, base_s * (2**attempt))
    return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Delivery:
    url: str
    delivered: bool
    attempts: int
    status: int | None  # the last HTTP status, None when no response came back
    error: str | None
    retryable: bool  # whether a later redelivery could succeed (server or network trouble)


def deliver(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_attempts: int = 5,
    base_delay_s: float = 0.5,
    max_delay_s: float = 8.0,
    timeout_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Delivery:
    """POST ``body`` to ``url``; retry network errors, timeouts, 408/425/429 and 5xx with backoff.

    Other 4xx answers are final: the receiver rejected the event and a retry would not change that.
    """
    rng = rng or random.Random()
    status: int | None = None
    error: str | None = None
    for attempt in range(1, max_attempts + 1):
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return Delivery(url, True, attempt, response.status, None, False)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
            if exc.code not in RETRYABLE_STATUS:
                return Delivery(url, False, attempt, status, error, False)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            status, error = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt < max_attempts:
            sleep(backoff_delay(attempt - 1, base_delay_s, max_delay_s, rng))
    return Delivery(url, False, max_attempts, status, error, True)
