"""A fresh PostgreSQL database per test module and a DAGSTER_HOME holding the repo's production
dagster.yaml, whose connection settings come from the DAGSTER_PG_* variables set here."""

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

REPO = Path(__file__).resolve().parent.parent


def server_env() -> dict[str, str]:
    """Where the server is (scripts/postgres starts one on 127.0.0.1:5432 when none answers)."""
    return {
        "DAGSTER_PG_HOST": os.environ.get("DAGSTER_PG_HOST", "127.0.0.1"),
        "DAGSTER_PG_PORT": os.environ.get("DAGSTER_PG_PORT", "5432"),
        "DAGSTER_PG_USER": os.environ.get("DAGSTER_PG_USER", "postgres"),
        "DAGSTER_PG_PASSWORD": os.environ.get("DAGSTER_PG_PASSWORD", ""),
    }


def connect(env: dict[str, str], db_name: str):
    return psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]),
                            user=env["DAGSTER_PG_USER"], password=env["DAGSTER_PG_PASSWORD"], dbname=db_name)


@contextmanager
def fresh_database() -> Iterator[dict[str, str]]:
    """A new, empty database ``redag_test_<random>``, dropped afterwards; yields the DAGSTER_PG_* env."""
    env = {**server_env(), "DAGSTER_PG_DB": f"redag_test_{secrets.token_hex(6)}"}
    admin = connect(env, "postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{env["DAGSTER_PG_DB"]}"')
    try:
        yield env
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{env["DAGSTER_PG_DB"]}" WITH (FORCE)')
        admin.close()


@contextmanager
def production_home(home: Path) -> Iterator[dict[str, str]]:
    """DAGSTER_HOME=home with the repo's dagster.yaml on a fresh database; sets the env while open."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    with fresh_database() as pg_env:
        env = {**pg_env, "DAGSTER_HOME": str(home)}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def open_instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
