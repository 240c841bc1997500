"""The executor of every run: Dagster's default (one process per step, or in process) unless
REDAG_EXECUTOR=k8s, which runs each step as its own Kubernetes Job, placed by the step's
``dagster-k8s/config`` tag. Step processes fork from a server that imported the code location once,
unless the run config names its own ``start_method``."""

import os

from dagster import ExecutorDefinition, multi_or_in_process_executor

EXECUTOR_CHOICE = "REDAG_EXECUTOR"
PRELOADED = {"forkserver": {"preload_modules": ["real_estate_dag.definitions"]}}


def _preloaded_steps(config: dict) -> dict:
    if "multiprocess" not in config:
        return config
    return {"multiprocess": {"start_method": PRELOADED, **config["multiprocess"]}}


def executor_from_env() -> ExecutorDefinition:
    choice = os.environ.get(EXECUTOR_CHOICE, "")
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if choice:
        raise ValueError(f"REDAG_EXECUTOR={choice!r}: set it to 'k8s' or leave it unset")
    return multi_or_in_process_executor.configured(_preloaded_steps, name=multi_or_in_process_executor.name,
                                                   config_schema=multi_or_in_process_executor.config_schema)
