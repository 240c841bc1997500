"""Where settings come from: each is a resource field that an environment variable may set.

A variable that is set reaches its field as an ``EnvVar`` (``EnvVar.int`` for an int field), so the UI
shows where the value came from; an unset one leaves the field's default. Dagster resolves an
``EnvVar`` only for str, int and bool fields, so every field set this way is one of those.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from dagster import ConfigurableResource, EnvVar

from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.resources.store import LocalStore, Store

R = TypeVar("R", bound=ConfigurableResource)
DEFAULT_STORE_ROOT = ".data/store"
DEFAULT_CACHE_DIR = ".data/s3-cache"


@dataclass(frozen=True)
class Settings(Generic[R]):
    """The fields of one resource class that variables set: field -> variable, and the defaults given
    here where the class has none of its own."""

    resource: type[R]
    variables: Mapping[str, str]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def default(self, name: str) -> Any:
        """The value a field has when its variable is unset (None where the variable is required)."""
        if name in self.defaults:
            return self.defaults[name]
        declared = self.resource.model_fields[name]
        return None if declared.is_required() else declared.default

    def from_env(self, **fixed: Any) -> R:
        values: dict[str, Any] = {**self.defaults, **fixed}
        for name, variable in self.variables.items():
            if os.environ.get(variable):
                values[name] = EnvVar.int(variable) if self.resource.model_fields[name].annotation is int \
                    else EnvVar(variable)
        return self.resource(**values)


LOCAL_STORE = Settings(LocalStore, {"root": "REDAG_STORE_ROOT"}, {"root": DEFAULT_STORE_ROOT})
S3_STORE = Settings(S3Store, {
    "bucket": "REDAG_S3_BUCKET",
    "prefix": "REDAG_S3_PREFIX",
    "region_name": "AWS_REGION",
    "endpoint_url": "REDAG_S3_ENDPOINT_URL",
    "addressing_style": "REDAG_S3_ADDRESSING_STYLE",
    "cache_dir": "REDAG_CACHE_DIR",
    "url_expiry_s": "REDAG_URL_EXPIRY_S",
    "max_attempts": "REDAG_S3_MAX_ATTEMPTS",
}, {"cache_dir": DEFAULT_CACHE_DIR})
STORE_CHOICE = "REDAG_STORE"  # chooses the implementation: ``local`` (the default) or ``s3``


def store_from_env() -> Store:
    """The store named by REDAG_STORE: ``local`` (the default) or ``s3``."""
    kind = os.environ.get(STORE_CHOICE) or "local"
    if kind == "local":
        return LOCAL_STORE.from_env()
    if kind == "s3":
        return S3_STORE.from_env(bucket=EnvVar("REDAG_S3_BUCKET"))
    raise ValueError(f"REDAG_STORE={kind!r}: expected 'local' or 's3'")

