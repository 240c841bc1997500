"""Asset code versions that include the model backend and weights digest, so a model change
marks exactly the assets it affects (and everything downstream) as stale."""

from functools import cache

from real_estate_dag.gpu_resources.registry import backend_versions, settings_from_env


@cache
def _backends() -> dict[str, str]:
    return backend_versions(settings_from_env())


def code_version(logic: str, capability: str) -> str:
    return f"{logic}+{_backends()[capability]}"
