"""Run, or re-execute from failure, showcase_job in this process against $DAGSTER_HOME.

    python tests/run_job.py run <partition key>
    python tests/run_job.py reexecute <failed run id>

The fault tests start it as a subprocess (the run worker) so they can SIGKILL it mid-step.
"""

import sys

from dagster import DagsterInstance, JobDefinition, ReexecutionOptions, execute_job, reconstructable

from real_estate_dag.definitions import defs

IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def showcase_job() -> JobDefinition:
    return defs.resolve_job_def("showcase_job")


def main(mode: str, arg: str) -> int:
    with DagsterInstance.get() as instance:
        job = reconstructable(showcase_job)
        if mode == "run":
            instance.add_dynamic_partitions("property", [arg])
            result = execute_job(job, instance, run_config=IN_PROCESS, tags={"dagster/partition": arg})
        else:
            options = ReexecutionOptions.from_failure(arg, instance)
            parent = instance.get_run_by_id(arg)
            tags = {"dagster/partition": parent.tags["dagster/partition"]}  # execute_job does not carry it over
            result = execute_job(job, instance, run_config=IN_PROCESS, tags=tags, reexecution_options=options)
        print(f"run {result.run_id} success={result.success}")
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
