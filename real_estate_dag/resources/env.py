"""Resource settings: an ``EnvVar`` when the variable is set, so the UI shows where it came from."""

import os

from dagster import EnvVar

from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.resources.store import LocalStore, Store

DEFAULT_STORE_ROOT = ".data/store"
DEFAULT_CACHE_DIR = ".data/s3-cache"


def env_or(name: str, default: str) -> EnvVar | str:
    return EnvVar(name) if os.environ.get(name) else default


def env_int_or(name: str, default: int) -> EnvVar | int:
    return EnvVar.int(name) if os.environ.get(name) else default


def store_from_env() -> Store:
    """The store named by REDAG_STORE: ``local`` (the default) or ``s3``."""
    kind = os.environ.get("REDAG_STORE") or "local"
    if kind == "local":
        return LocalStore(root=env_or("REDAG_STORE_ROOT", DEFAULT_STORE_ROOT))
    if kind == "s3":
        return S3Store(
            bucket=EnvVar("REDAG_S3_BUCKET"),
            prefix=env_or("REDAG_S3_PREFIX", ""),
            region_name=env_or("AWS_REGION", ""),
            endpoint_url=env_or("REDAG_S3_ENDPOINT_URL", ""),
            addressing_style=env_or("REDAG_S3_ADDRESSING_STYLE", "auto"),
            cache_dir=env_or("REDAG_CACHE_DIR", DEFAULT_CACHE_DIR),
            url_expiry_s=env_int_or("REDAG_URL_EXPIRY_S", 7 * 24 * 3600),
            max_attempts=env_int_or("REDAG_S3_MAX_ATTEMPTS", 10),
        )
    raise ValueError(f"REDAG_STORE={kind!r}: expected 'local' or 's3'")
def env_number(name: str, default: float) -> float:
    """A plain number for a Config default (shown and overridable in the launchpad)."""
    return float(os.environ.get(name) or default)
