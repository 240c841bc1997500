"""Retention: a daily job that frees stale intermediates and temporary files through the store."""

import time

from dagster import (
    Config,
    ConfigurableResource,
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)
from pydantic import Field

from real_estate_dag.assets.common import table
from real_estate_dag.ops.retention import RetentionPolicy, plan_cleanup, summarize
from real_estate_dag.resources.results import read_current
from real_estate_dag.resources.store import RESULTS, WORK, Store
from real_estate_dag.retries import transient_retries

_DEFAULTS = RetentionPolicy()


class RetentionSettings(ConfigurableResource):
    """Ages after which files go (whole days and hours, so variables can set them)."""

    work_days: int = Field(default=int(_DEFAULTS.work_days), description="a work area untouched this long goes")
    tmp_hours: int = Field(default=int(_DEFAULTS.tmp_hours), description="a .tmp-* file older than this goes")
    results_days: int = Field(default=int(_DEFAULTS.results_days), description="results older go; 0 keeps them")

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(self.work_days, self.tmp_hours, self.results_days)


class RetentionConfig(Config):
    dry_run: bool = False


@op
def remove_expired_files(context: OpExecutionContext, config: RetentionConfig, store: Store,
                         retention: RetentionSettings) -> None:
    """Delete work/<property>/ areas untouched for ``work_days``, .tmp-* files and result sets that
    never became current (or were superseded) older than ``tmp_hours``, other published files only
    when ``results_days`` > 0. The current and previous result sets and uploads are never touched."""
    policy = retention.policy()
    with transient_retries(context):
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
        "freed": table(rows, columns=("property", "reason", "files", "bytes")),
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
