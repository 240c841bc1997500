"""Run-status sensors that tell the business's systems when a property run succeeded or failed."""

from typing import TYPE_CHECKING

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    UrlMetadataValue,
    run_failure_sensor,
    run_status_sensor,
)

from real_estate_dag.jobs import showcase_job
from real_estate_dag.ops.failures import step_failure_text
from real_estate_dag.ops.webhooks import event_payload
from real_estate_dag.resources.webhooks import WebhookNotifier, redacted

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo


class WebhookDeliveryError(RuntimeError):
    pass


def run_results(instance: DagsterInstance, run_id: str) -> tuple[dict[str, str], str | None]:
    """The published results the run produced and the property id: the showcase's URL and its result set
    (``result_set``: results/<key>/current.json, which names every published file with its URL). Tables
    staged in work/ are intermediates until showcase_video publishes them, so they are not announced."""
    urls: dict[str, str] = {}
    property_id = None
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None:
            continue
        name = materialization.asset_key.to_user_string()
        if name == "showcase_video":
            for field, key in (("url", name), ("result_set", "result_set")):
                if isinstance(value := materialization.metadata.get(field), UrlMetadataValue):
                    urls[key] = value.url
        if name == "property_manifest" and "property_id" in materialization.metadata:
            property_id = str(materialization.metadata["property_id"].value)
    return urls, property_id


def error_chain(error: "SerializableErrorInfo | None") -> list[tuple[str | None, str]]:
    """``(class name, message)`` of an error and its causes, outermost first."""
    chain = []
    while error is not None and len(chain) < 10:
        chain.append((error.cls_name, error.message))
        error = error.cause or error.context
    return chain


def failure_message(context: RunFailureSensorContext) -> str:
    """What went wrong, step by step: the step's own error, not the retry or Dagster wrapper around it."""
    lines = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        text = step_failure_text(user.description if user else None, error_chain(data.error))
        lines.append(f"{event.step_key}: {text}")
    return "\n".join(lines) or (context.failure_event.message or "run failed")


def notify(context: RunStatusSensorContext, webhooks: WebhookNotifier, status: str, error: str | None) -> None:
    if not webhooks.targets():
        return
    run = context.dagster_run
    urls, property_id = run_results(context.instance, run.run_id)
    stats = context.instance.get_run_stats(run.run_id)
    payload = event_payload(
        status=status, run_id=run.run_id, job_name=run.job_name, partition_key=context.partition_key,
        property_id=property_id, result_urls=urls, error=error, finished_at=stats.end_time or 0.0,
    )
    deliveries = webhooks.send(payload, idempotency_key=f"{run.run_id}:{status}")
    for delivery in deliveries:
        outcome = "delivered" if delivery.delivered else f"not delivered ({delivery.error})"
        context.log.info(f"run {run.run_id} {status}: webhook {redacted(delivery.url)} {outcome} "
                         f"after {delivery.attempts} attempt(s)")
    failed = [redacted(d.url) for d in deliveries if not d.delivered]
    if failed:
        raise WebhookDeliveryError(f"run {run.run_id} {status}: webhook delivery failed for {', '.join(failed)}")


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[showcase_job],
    default_status=DefaultSensorStatus.RUNNING,
    description="POSTs a signed property.run.succeeded event, with the result URLs, to REDAG_WEBHOOK_URLS.",
)
def showcase_success_webhook(context: RunStatusSensorContext, webhooks: WebhookNotifier) -> None:
    notify(context, webhooks, "succeeded", None)


@run_failure_sensor(
    monitored_jobs=[showcase_job],
    default_status=DefaultSensorStatus.RUNNING,
    description="POSTs a signed property.run.failed event, with the error, to REDAG_WEBHOOK_URLS.",
)
def showcase_failure_webhook(context: RunFailureSensorContext, webhooks: WebhookNotifier) -> None:
    notify(context, webhooks, "failed", failure_message(context))
