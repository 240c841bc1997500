"""Webhook events for finished property runs, delivered to a real HTTP server on loopback."""

import hashlib
import hmac
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_run_status_sensor_context, materialize
from media_helpers import write_upload

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.webhooks import backoff_delay, deliver, encode, signed_headers, verify
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.store import LocalStore
from real_estate_dag.resources.webhooks import WebhookConfigError, WebhookNotifier
from real_estate_dag.sensors.webhooks import (
    WebhookDeliveryError,
    showcase_failure_webhook,
    showcase_success_webhook,
)

SECRET = "whsec-test-4f9a"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers ``fail_first[path]`` requests to a path with ``fail_status``, then 200."""

    url: str
    fail_first: dict[str, int] = field(default_factory=dict)
    fail_status: int = 503
    requests: list[Received] = field(default_factory=list)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, dict(self.headers), body))
            failed_before = len(state.to(self.path)) - 1
            code = state.fail_status if failed_before < state.fail_first.get(self.path, 0) else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


def notifier(*urls: str, **kwargs: object) -> WebhookNotifier:
    return WebhookNotifier(urls=", ".join(urls), secret=SECRET, base_delay_s=0.05, max_delay_s=0.2, **kwargs)


def receiver_verifies(request: Received) -> bool:
    """What a receiver does, written out with hmac alone."""
    timestamp = request.headers["X-Redag-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", request.headers["X-Redag-Signature"])



def run_property(root: Path, folder: str, instance: DagsterInstance):
    store = LocalStore(root=str(root))
    instance.add_dynamic_partitions("property", [folder])
    return materialize(
        list(defs.assets), partition_key=folder, instance=instance, raise_on_error=False,
        resources={"store": store, "models": ModelRegistry(device="cpu"),
                   "io_manager": StoreJsonIOManager(store=store)},
    )


def sensor_context(result, instance: DagsterInstance, event, webhooks: WebhookNotifier):
    return build_run_status_sensor_context(
        sensor_name="webhook", dagster_event=event, dagster_instance=instance, dagster_run=result.dagster_run,
        resources={"webhooks": webhooks}, partition_key=result.dagster_run.tags["dagster/partition"],
    )


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory, tiny_clip: Path):
    """A real run that failed: the upload's video is not a video."""
    root = tmp_path_factory.mktemp("broken")
    write_upload(root, "broken", {"walk.mp4": tiny_clip})
    (root / "uploads/broken/walk.mp4").write_bytes(b"not a video at all" * 50)
    instance = DagsterInstance.ephemeral()
    result = run_property(root, "broken", instance)
    assert not result.success
    return result, instance


def test_a_finished_run_is_announced_signed_with_results_after_retries(
    tmp_path: Path, tiny_clip: Path, receiver: Receiver, capfd: pytest.CaptureFixture
) -> None:
    write_upload(tmp_path, "elm-st", {"walk.mp4": tiny_clip}, options={"target_duration_s": 10},
                 listing={"address": "9 Elm St"})
    instance = DagsterInstance.ephemeral()
    result = run_property(tmp_path, "elm-st", instance)
    assert result.success
    receiver.fail_first = {"/hooks/crm-tok-7731": 2}
    webhooks = notifier(f"{receiver.url}/hooks/crm-tok-7731", f"{receiver.url}/hooks/site")
    capfd.readouterr()
    showcase_success_webhook(sensor_context(result, instance, result.get_run_success_event(), webhooks))
    logged = capfd.readouterr().err

    crm, site = receiver.to("/hooks/crm-tok-7731"), receiver.to("/hooks/site")
    assert len(crm) == 3 and len(site) == 1  # two 503s, then accepted
    assert len({r.body for r in crm + site}) == 1
    for request in crm + site:
        assert receiver_verifies(request)
        assert request.headers["Idempotency-Key"] == f"{result.run_id}:succeeded"
        assert request.headers["X-Redag-Event"] == "property.run.succeeded"
        assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(crm[0].body)
    assert payload["status"] == "succeeded" and payload["error"] is None
    assert payload["run_id"] == result.run_id
    assert payload["property_key"] == "elm-st" and payload["property_id"] == "elm-st"
    showcase = payload["result_urls"]["showcase_video"]
    assert showcase.startswith("file://") and showcase.endswith(f"results/elm-st/runs/{result.run_id}/showcase.mp4")
    assert Path(showcase.removeprefix("file://")).stat().st_size > 10_000
    assert payload["result_urls"]["selected_clips"].endswith("work/elm-st/tables/clips.parquet")  # staged
    assert payload["finished_at"] > 0

    # A tampered body or another secret does not verify.
    request = crm[0]
    assert not verify(SECRET, request.headers["X-Redag-Timestamp"], request.body + b" ",
                      request.headers["X-Redag-Signature"])
    assert not verify("other", request.headers["X-Redag-Timestamp"], request.body, request.headers["X-Redag-Signature"])
    assert "delivered after 3 attempt(s)" in logged
    assert SECRET not in logged and "crm-tok-7731" not in logged


def test_a_failed_run_is_announced_with_its_error(failed_run, receiver: Receiver) -> None:
    result, instance = failed_run
    showcase_failure_webhook(sensor_context(result, instance, result.get_run_failure_event(),
                                            notifier(f"{receiver.url}/hooks/ops")))
    [request] = receiver.to("/hooks/ops")
    assert receiver_verifies(request)
    assert request.headers["Idempotency-Key"] == f"{result.run_id}:failed"
    payload = json.loads(request.body)
    assert payload["status"] == "failed" and payload["property_key"] == "broken"
    assert payload["error"].startswith("property_manifest: uploads/broken/walk.mp4: not a readable media file")
    assert payload["result_urls"] == {}


def test_delivery_gives_up_after_bounded_retries_and_never_retries_a_rejection(receiver: Receiver) -> None:
    body = encode({"event": "property.run.succeeded"})
    headers = signed_headers(SECRET, body, "run-1:succeeded", "property.run.succeeded", 1_700_000_000)
    receiver.fail_first = {"/down": 99, "/gone": 99}
    sleeps: list[float] = []
    down = deliver(f"{receiver.url}/down", body, headers, max_attempts=4, base_delay_s=0.01, max_delay_s=0.02,
                   sleep=sleeps.append)
    assert (down.delivered, down.attempts, down.status, down.retryable) == (False, 4, 503, True)
    assert len(receiver.to("/down")) == 4 and len(sleeps) == 3
    receiver.fail_status = 410
    gone = deliver(f"{receiver.url}/gone", body, headers, max_attempts=4, sleep=sleeps.append)
    assert (gone.delivered, gone.attempts, gone.status, gone.retryable) == (False, 1, 410, False)
    assert len(receiver.to("/gone")) == 1
    closed = deliver("http://127.0.0.1:9/", body, headers, max_attempts=2, base_delay_s=0.01)
    assert not closed.delivered and closed.status is None and "Connection refused" in closed.error


def test_backoff_is_exponential_jittered_and_bounded() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, 0.5, 8.0, rng) for attempt in range(8)]
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len({round(backoff_delay(2, 0.5, 8.0, rng), 6) for _ in range(20)}) > 1


def test_a_failed_delivery_fails_the_sensor_tick_and_secrets_are_required(failed_run, receiver: Receiver) -> None:
    result, instance = failed_run
    receiver.fail_first = {"/flaky": 99}
    event = result.get_run_failure_event()
    with pytest.raises(WebhookDeliveryError, match=r"webhook delivery failed for http://127\.0\.0\.1:\d+$"):
        showcase_failure_webhook(sensor_context(result, instance, event,
                                                notifier(f"{receiver.url}/flaky", max_attempts=2)))
    assert len(receiver.to("/flaky")) == 2
    unsigned = WebhookNotifier(urls=f"{receiver.url}/x")
    with pytest.raises(WebhookConfigError, match="REDAG_WEBHOOK_SECRET must be set"):
        showcase_failure_webhook(sensor_context(result, instance, event, unsigned))
    assert not receiver.to("/x")
