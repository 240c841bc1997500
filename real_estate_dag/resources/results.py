"""A property's published result set: the videos and tables of one run, swapped in together.

Steps stage their tables under ``work/<key>/tables/``; the render step publishes the whole set:

  results/<key>/runs/<set id>/...   one run's files (the set id is the run id)
  results/<key>/current.json        written last, in one atomic write: which set is current, and
                                    its files with size, sha256, key and URL

Readers follow ``current.json``, so they see one run's complete set or the one before it, never a
mix. The previous set is kept until a newer one is complete; the set before it is deleted once
the swap is done. A set that never became current (a killed or failed run) is never named by
``current.json`` and is removed on failure, or by retention once it is old.
"""

import errno
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from real_estate_dag.ops.inputs import fingerprint
from real_estate_dag.resources.store import RESULTS, Store, work_prefix

CURRENT = "current.json"
RUNS = "runs"
TABLES = "tables"


class ResultSetError(RuntimeError):
    """A result set cannot be assembled from what the steps staged."""


def current_key(partition_key: str) -> str:
    return f"{RESULTS}/{partition_key}/{CURRENT}"


def set_prefix(partition_key: str, set_id: str) -> str:
    return f"{RESULTS}/{partition_key}/{RUNS}/{set_id}"


def table_key(partition_key: str, name: str) -> str:
    """Where ``name``'s table is staged until the render step publishes it with the videos."""
    return f"{work_prefix(partition_key, TABLES)}/{name}.parquet"


def stage_table(store: Store, partition_key: str, name: str, rows: list[dict[str, Any]]) -> str:
    """Write ``rows`` as the staged ``<name>.parquet`` (replacing the previous one atomically); its URL."""
    import pandas as pd

    key = table_key(partition_key, name)
    local = store.work_dir(partition_key, TABLES) / f".tmp-{os.getpid()}-{name}.parquet"
    try:
        pd.DataFrame(rows).to_parquet(local, index=False)
        return store.publish(local, key)
    except OSError as exc:
        raise OSError(exc.errno or errno.EIO, f"writing the {name} table failed ({exc})", str(local)) from exc
    finally:
        local.unlink(missing_ok=True)  # LocalStore moved it; S3Store uploaded a copy


def staged_tables(store: Store, partition_key: str, names: list[str]) -> dict[str, Path]:
    """Local files of the staged tables ``names``; a missing one names the step to materialise again."""
    files = {}
    for name in names:
        try:
            files[f"{name}.parquet"] = store.local_path(table_key(partition_key, name))
        except FileNotFoundError as exc:
            raise ResultSetError(f"{table_key(partition_key, name)} is missing: the step that writes the "
                                 f"{name} table must be materialised again before the result set") from exc
    return files


def read_current(store: Store, partition_key: str) -> dict[str, Any] | None:
    """The current set's record (``current.json``), or None before the first set is published."""
    try:
        return json.loads(store.read_bytes(current_key(partition_key)))
    except FileNotFoundError:
        return None


def current_file(store: Store, partition_key: str, name: str) -> str:
    """The store key of ``name`` in the current set."""
    current = read_current(store, partition_key)
    if current is None or name not in current["files"]:
        raise FileNotFoundError(f"{current_key(partition_key)} names no {name}")
    return current["files"][name]["key"]


def publish_result_set(store: Store, partition_key: str, run_id: str, files: Mapping[str, Path]) -> dict[str, Any]:
    """Publish ``files`` (result name -> local file) as ``partition_key``'s new current set; the
    record written to ``current.json``. On any failure the current set and ``current.json`` are as
    they were and the new set's files are removed."""
    previous = read_current(store, partition_key)
    set_id = run_id if previous is None or previous["run_id"] != run_id else f"{run_id}-{time.time_ns()}"
    prefix = set_prefix(partition_key, set_id)
    record: dict[str, Any] = {
        "partition_key": partition_key,
        "run_id": run_id,
        "set_id": set_id,
        "published_at": time.time(),
        "previous_set_id": previous["set_id"] if previous else None,
        "files": {},
    }
    try:
        _delete_set(store, partition_key, set_id)  # what a killed attempt of this run left
        for name, local in files.items():
            found = fingerprint(local)
            size, digest = found["size_bytes"], found["sha256"]
            key = f"{prefix}/{name}"
            url = store.publish(local, key)
            record["files"][name] = {"key": key, "url": url, "size": size, "sha256": digest}
        store.write_bytes(current_key(partition_key), json.dumps(record, indent=2).encode())
    except BaseException:
        if not _may_be_current(store, partition_key, set_id):
            _delete_set(store, partition_key, set_id)
        raise
    # The set that was previous before this swap is now two behind.
    if previous and previous.get("previous_set_id") not in (None, set_id):
        _delete_set(store, partition_key, previous["previous_set_id"])
    return record


def _may_be_current(store: Store, partition_key: str, set_id: str) -> bool:
    """Whether ``current.json`` names ``set_id`` after all (on S3 a PUT can be applied and its reply
    lost), or cannot be read to tell: then the files stay, and retention removes them if not."""
    try:
        return (read_current(store, partition_key) or {}).get("set_id") == set_id
    except Exception:
        return True


def _delete_set(store: Store, partition_key: str, set_id: str) -> None:
    for obj in store.list_objects(set_prefix(partition_key, set_id)):
        store.delete(obj.key)


