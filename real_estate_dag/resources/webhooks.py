"""The webhook resource: where finished-run events go and the secret that signs them."""

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from dagster import ConfigurableResource

from real_estate_dag.ops.webhooks import Delivery, deliver, encode, signed_headers


class WebhookConfigError(ValueError):
    pass


def redacted(url: str) -> str:
    """scheme://host[:port] only: paths and query strings of webhook URLs often carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class WebhookNotifier(ConfigurableResource):
    """POSTs signed JSON events to every configured URL (REDAG_WEBHOOK_URLS, comma-separated)."""

    urls: str = ""
    secret: str = ""
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    timeout_s: float = 5.0

    def targets(self) -> list[str]:
        return [url.strip() for url in self.urls.split(",") if url.strip()]

    def send(self, payload: Mapping[str, Any], idempotency_key: str) -> list[Delivery]:
        """Deliver one event to every target; returns one Delivery per URL."""
        targets = self.targets()
        if targets and not self.secret:
            raise WebhookConfigError("REDAG_WEBHOOK_SECRET must be set when REDAG_WEBHOOK_URLS is: "
                                     "events are never sent unsigned")
        for url in targets:
            if urlsplit(url).scheme not in ("http", "https"):
                raise WebhookConfigError(f"webhook URL {redacted(url)} is not http(s)")
        body = encode(payload)
        headers = signed_headers(self.secret, body, idempotency_key, str(payload["event"]), time.time())
        # In parallel, so one slow receiver does not push the others past the sensor's time budget.
        with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
            return list(pool.map(lambda url: deliver(
                url, body, headers, max_attempts=self.max_attempts, base_delay_s=self.base_delay_s,
                max_delay_s=self.max_delay_s, timeout_s=self.timeout_s), targets))
