"""The Kubernetes configuration checked with dagster-k8s's own schemas and job construction: GPU
steps ask for a GPU on a GPU node, CPU steps do not; the shipped instance and executor config load."""

from pathlib import Path

import pytest
import yaml
from dagster import DagsterRun, multi_or_in_process_executor
from dagster._config import process_config
from dagster._core.execution.api import create_execution_plan
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher, k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import construct_dagster_k8s_job, get_user_defined_k8s_config

from real_estate_dag.executor import executor_from_env
from real_estate_dag.gpu_resources.k8s import GPU_NODE_SELECTOR, GPU_RESOURCE

REPO = Path(__file__).resolve().parent.parent
GPU_STEPS = {"video_analysis", "photo_analysis"}
IMAGE = "registry.example.com/real-estate-dag:1.0"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: unused}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.fixture
def k8s_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDAG_EXECUTOR", "k8s")
    monkeypatch.setenv("DAGSTER_K8S_NAMESPACE", "listings")
    for name, value in {"DAGSTER_PG_HOST": "pg", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "dagster",
                        "DAGSTER_PG_PASSWORD": "x", "DAGSTER_PG_DB": "dagster"}.items():
        monkeypatch.setenv(name, value)


def step_tags() -> dict[str, dict[str, str]]:
    from real_estate_dag.definitions import defs

    plan = create_execution_plan(defs.resolve_job_def("showcase_job"))
    return {step.key: step.tags for step in plan.steps}


def launcher_config() -> dict:
    raw = yaml.safe_load((REPO / "deploy/k8s/dagster.yaml").read_text())["run_launcher"]
    assert (raw["module"], raw["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = process_config(K8sRunLauncher.config_type(), raw["config"])
    assert result.success, result.errors
    return result.value


def test_gpu_steps_ask_for_a_gpu_node_and_cpu_steps_do_not() -> None:
    tags = step_tags()
    assert len(tags) == 9
    for step, step_tags_ in tags.items():
        config = get_user_defined_k8s_config(step_tags_)
        if step in GPU_STEPS:
            assert config.container_config["resources"]["limits"] == {GPU_RESOURCE: "1"}
            assert config.pod_spec_config["node_selector"] == GPU_NODE_SELECTOR
            assert config.pod_spec_config["tolerations"] == [
                {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
        else:
            assert not config.container_config and not config.pod_spec_config, step


def test_step_jobs_built_by_dagster_k8s_place_only_gpu_steps_on_gpu_nodes(tmp_path: Path, k8s_env: None) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    config = {**launcher_config(), "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    launcher = K8sRunLauncher(**config)
    run = DagsterRun(job_name="showcase_job", run_id="0b5ad0f5-0000-4000-8000-000000000001")
    for step, tags in step_tags().items():
        # What K8sStepHandler does for each step: run launcher settings, then the step's tags.
        context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False).merge(
            K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(tags)))
        job = construct_dagster_k8s_job(context.get_k8s_job_config(IMAGE, launcher),
                                        args=["dagster", "api", "execute_step"], job_name=f"dagster-step-{step}"[:63],
                                        user_defined_k8s_config=context.run_k8s_config)
        pod = job.spec.template.spec
        [container] = pod.containers
        assert container.image == IMAGE and pod.service_account_name == "dagster"
        assert job.metadata.namespace is None and context.namespace == "listings"
        assert container.resources.requests["cpu"] == "1"  # from the run launcher, on every step
        assert job.spec.backoff_limit == 0 and job.spec.ttl_seconds_after_finished == 86400
        if step in GPU_STEPS:
            assert container.resources.limits[GPU_RESOURCE] == "1"
            assert container.resources.limits["memory"] == "6Gi"
            assert pod.node_selector == GPU_NODE_SELECTOR
            assert [(t.key, t.operator, t.effect) for t in pod.tolerations] == [(GPU_RESOURCE, "Exists", "NoSchedule")]
        else:
            assert GPU_RESOURCE not in (container.resources.limits or {}), step
            assert not pod.node_selector and not pod.tolerations, step


def test_shipped_instance_files_and_executor_config_validate(k8s_env: None) -> None:
    for folder in (REPO, REPO / "deploy/k8s"):
        config, _ = dagster_instance_config(str(folder), "dagster.yaml")
        assert config["concurrency"]["pools"]["default_limit"] == 1
        assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    run_config = yaml.safe_load((REPO / "deploy/k8s/executor.yaml").read_text())
    result = process_config(k8s_job_executor.config_schema.config_type, run_config["execution"]["config"])
    assert result.success, result.errors
    assert result.value["per_step_k8s_config"]["showcase_video"]["container_config"]["resources"]


def test_the_executor_is_chosen_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDAG_EXECUTOR", raising=False)
    # Dagster's default (one process per step, or in process), its steps forked from a preloaded server
    # (test_definitions checks the run config this gives)
    assert executor_from_env().name == multi_or_in_process_executor.name
    monkeypatch.setenv("REDAG_EXECUTOR", "k8s")
    assert executor_from_env() is k8s_job_executor
    monkeypatch.setenv("REDAG_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="REDAG_EXECUTOR='celery'"):
        executor_from_env()
