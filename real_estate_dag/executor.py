"""The executor of every run: Dagster's default (one process per step) unless REDAG_EXECUTOR=k8s,
which runs each step as its own Kubernetes Job, placed by the step's ``dagster-k8s/config`` tag."""

import os

from dagster import ExecutorDefinition

EXECUTOR_CHOICE = "REDAG_EXECUTOR"


def executor_from_env() -> ExecutorDefinition | None:
    choice = os.environ.get(EXECUTOR_CHOICE, "")
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if choice:
        raise ValueError(f"REDAG_EXECUTOR={choice!r}: set it to 'k8s' or leave it unset")
    return None
