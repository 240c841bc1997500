"""Retention: a daily job that frees stale intermediates and temporary files through the store."""

import time

from dagster import (
    Config,
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from real_estate_dag.assets.common import STORAGE_RETRY, markdown_table
from real_estate_dag.ops.retention import RetentionPolicy, plan_cleanup, summarize
from real_estate_dag.resources.env import env_number
from real_estate_dag.resources.results import read_current
from real_estate_dag.resources.store import RESULTS, WORK, Store

_DEFAULTS = RetentionPolicy()


class RetentionConfig(Config):
    """Ages after which files go; each defaults to its REDAG_RETENTION_* variable."""

    work_days: float = env_number("REDAG_RETENTION_DAYS", _DEFAULTS.work_days)
    tmp_hours: float = env_number("REDAG_RETENTION_TMP_HOURS", _DEFAULTS.tmp_hours)
    results_days: float = env_number("REDAG_RETENTION_RESULTS_DAYS", _DEFAULTS.results_days)
    dry_run: bool = False


@op(retry_policy=STORAGE_RETRY)
def remove_expired_files(context: OpExecutionContext, config: RetentionConfig, store: Store) -> None:
    """Delete work/<property>/ areas untouched for ``work_days``, .tmp-* files and result sets that
    never became current (or were superseded) older than ``tmp_hours``, other published files only
    when ``results_days`` > 0. The current and previous result sets and uploads are never touched."""
    policy = RetentionPolicy(config.work_days, config.tmp_hours, config.results_days)
    objects = store.list_objects(WORK) + store.list_objects(RESULTS)
    keep = {key: {current["set_id"], current["previous_set_id"]} for key in store.list_folders(RESULTS)
            if (current := read_current(store, key))}
    removals = plan_cleanup(objects, time.time(), policy, work=WORK, results=RESULTS, keep=keep)
    for removal in removals:
        if not config.dry_run:
            store.delete(removal.key)
    rows = summarize(removals)
    verb = "would free" if config.dry_run else "freed"
    for row in rows:
        context.log.info(f"{row['property']}: {verb} {row['files']} {row['reason']} files, {row['bytes']} bytes")
    context.add_output_metadata({
        "dry_run": config.dry_run,
        "files_removed": len(removals),
        "bytes_freed": sum(r.size for r in removals),
        "properties": len({r.property_key for r in removals}),
        "freed": markdown_table(rows),
        "policy": f"work {policy.work_days:g} d, tmp {policy.tmp_hours:g} h, "
                  f"results {policy.results_days:g} d (0 = kept)",
    })


@job(description="Free stale per-property intermediates and leftover temporary files.")
def retention_job() -> None:
    remove_expired_files()


retention_schedule = ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="30 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 03:30: retention_job with the REDAG_RETENTION_* settings.",
)
