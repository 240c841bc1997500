"""Resource settings: an ``EnvVar`` when the variable is set, so the UI shows where it came from."""

import os

from dagster import EnvVar

DEFAULT_STORE_ROOT = ".data/store"


def env_or(name: str, default: str) -> EnvVar | str:
    return EnvVar(name) if os.environ.get(name) else default


def env_int_or(name: str, default: int) -> EnvVar | int:
    return EnvVar.int(name) if os.environ.get(name) else default


def env_number(name: str, default: float) -> float:
    """A plain number for a Config default (shown and overridable in the launchpad)."""
    return float(os.environ.get(name) or default)
