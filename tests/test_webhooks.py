"""Webhook events for finished property runs, delivered to a real HTTP server on loopback."""

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_run_status_sensor_context, materialize
from failing_assets import EXPECTED_REASONS, FAILING_ASSETS
from media_helpers import SHOWCASE_ONLY, write_upload

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.webhooks import deliver, encode, signed_headers, verify
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
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
    at: float  # time.monotonic() on arrival


@dataclass
class Receiver:
    """Answers ``fail_first[path]`` requests to a path with ``fail_status`` (and ``retry_after``), then 200."""

    url: str
    fail_first: dict[str, int] = field(default_factory=dict)
    fail_status: int = 503
    retry_after: str | None = None
    requests: list[Received] = field(default_factory=list)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, dict(self.headers), body, time.monotonic()))
            failed_before = len(state.to(self.path)) - 1
            failing = failed_before < state.fail_first.get(self.path, 0)
            self.send_response(state.fail_status if failing else 200)
            if failing and state.retry_after is not None:
                self.send_header("Retry-After", state.retry_after)
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
                   "io_manager": StoreJsonIOManager(store=store), "limits": UploadLimits()},
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
    write_upload(tmp_path, "elm-st", {"walk.mp4": tiny_clip}, options={"target_duration_s": 10, **SHOWCASE_ONLY},
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
    assert payload["result_urls"]["result_set"].endswith("results/elm-st/current.json")
    assert set(payload["result_urls"]) == {"showcase_video", "result_set"}  # staged tables are not announced
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
    down = deliver(f"{receiver.url}/down", body, headers, max_attempts=4, base_delay_s=0.1, max_delay_s=0.5)
    assert (down.delivered, down.attempts, down.status, down.error) == (False, 4, 503, "HTTP 503 Service Unavailable")
    arrivals = [r.at for r in receiver.to("/down")]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 3
    # urllib3's backoff: the first retry at once, then base * 2^n plus jitter up to base, at most max_delay_s
    assert 0.2 <= gaps[1] <= 0.5 + 0.3 and 0.4 <= gaps[2] <= 0.5 + 0.3, gaps
    receiver.fail_status = 410
    gone = deliver(f"{receiver.url}/gone", body, headers, max_attempts=4)
    assert (gone.delivered, gone.attempts, gone.status) == (False, 1, 410)
    assert len(receiver.to("/gone")) == 1
    closed = deliver("http://127.0.0.1:9/", body, headers, max_attempts=2, base_delay_s=0.01)
    assert not closed.delivered and closed.status is None and "Connection refused" in closed.error
    assert closed.attempts == 2


@pytest.mark.parametrize(("status", "retry_after", "max_delay_s", "wait_s"), [
    (503, "1", 5.0, 1.0),  # honoured although the backoff would retry at once
    (429, "2", 0.6, 0.6),  # capped at max_delay_s
    (429, "3600", 0.6, 0.6),
])
def test_retry_after_is_honoured_up_to_the_longest_delay(receiver: Receiver, status: int, retry_after: str,
                                                         max_delay_s: float, wait_s: float) -> None:
    body = encode({"event": "property.run.failed"})
    headers = signed_headers(SECRET, body, "run-2:failed", "property.run.failed", 1_700_000_000)
    receiver.fail_first, receiver.fail_status, receiver.retry_after = {"/busy": 1}, status, retry_after
    delivery = deliver(f"{receiver.url}/busy", body, headers, base_delay_s=0.01, max_delay_s=max_delay_s)
    assert (delivery.delivered, delivery.attempts, delivery.status) == (True, 2, 200)
    first, second = receiver.to("/busy")
    assert wait_s - 0.05 <= second.at - first.at <= wait_s + 0.5
    assert first.body == second.body and first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_the_failure_event_carries_each_steps_own_error(tmp_path: Path, receiver: Receiver) -> None:
    """Not 'Exceeded max_retries of 1' (a transient error whose retries ran out) nor a Dagster wrapper."""
    instance = DagsterInstance.ephemeral()
    result = materialize(FAILING_ASSETS, instance=instance, raise_on_error=False)
    assert not result.success
    context = build_run_status_sensor_context(
        sensor_name="webhook", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"webhooks": notifier(f"{receiver.url}/hooks/ops")})
    showcase_failure_webhook(context)
    [request] = receiver.to("/hooks/ops")
    lines = sorted(json.loads(request.body)["error"].splitlines())
    assert lines == [f"{step}: {reason}" for step, reason in sorted(EXPECTED_REASONS.items())]


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
