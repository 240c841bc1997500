"""Webhook events: a JSON body, its HMAC-SHA256 signature, and delivery with bounded retries (urllib3 Retry).

A receiver verifies ``X-Redag-Signature: sha256=<hex>`` as HMAC-SHA256(secret, "<timestamp>.<body>")
with the timestamp from ``X-Redag-Timestamp`` (reject old timestamps to stop replays), and drops
repeats of an ``Idempotency-Key`` it has already processed.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.util import Retry

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


@dataclass(frozen=True)
class Delivery:
    url: str
    delivered: bool
    attempts: int
    status: int | None  # the last HTTP status, None when no response came back
    error: str | None


def retry_policy(max_attempts: int, base_delay_s: float, max_delay_s: float) -> Retry:
    """Retries of a POST on network errors, timeouts, 408/425/429 and 5xx: exponential backoff with jitter
    (``base_delay_s * 2^n`` plus up to ``base_delay_s``, at most ``max_delay_s``) or the receiver's
    ``Retry-After``, also capped at ``max_delay_s``; the last answer is returned, not raised."""
    return Retry(
        total=max_attempts - 1, allowed_methods={"POST"}, status_forcelist=RETRYABLE_STATUS,
        backoff_factor=base_delay_s, backoff_jitter=base_delay_s, backoff_max=max_delay_s,
        respect_retry_after_header=True, retry_after_max=max_delay_s, raise_on_status=False, redirect=False,
    )


def deliver(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_attempts: int = 5,
    base_delay_s: float = 0.5,
    max_delay_s: float = 8.0,
    timeout_s: float = 5.0,
) -> Delivery:
    """POST ``body`` to ``url`` under ``retry_policy``; delivered on a 2xx answer.

    Other 4xx answers are final: the receiver rejected the event and a retry would not change that.
    Redirects are not followed (a POST must not turn into a GET elsewhere).
    """
    retries = retry_policy(max_attempts, base_delay_s, max_delay_s)
    with urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s)) as pool:
        try:
            response = pool.request("POST", url, body=body, headers=dict(headers), retries=retries)
        except urllib3.exceptions.MaxRetryError as exc:
            return Delivery(url, False, max_attempts, None, _network_error(exc.reason))
        except urllib3.exceptions.HTTPError as exc:
            return Delivery(url, False, 1, None, _network_error(exc))
    attempts = len(response.retries.history) + 1 if response.retries else 1
    if 200 <= response.status < 300:
        return Delivery(url, True, attempts, response.status, None)
    return Delivery(url, False, attempts, response.status, f"HTTP {response.status} {response.reason or ''}".strip())


def _network_error(exc: Exception | None) -> str:
    """The error's class and text; urllib3 names the host and port but never the URL's path (often a token)."""
    return f"{type(exc).__name__}: {exc}" if exc else "no response"
