"""The local-store upload sensor: a new or changed manifest.json becomes one run of its property."""

import hashlib
import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from real_estate_dag.assets.common import property_partitions
from real_estate_dag.jobs import showcase_job
from real_estate_dag.ops.keys import property_key
from real_estate_dag.ops.manifest import ManifestError, parse_manifest
from real_estate_dag.resources.store import UPLOADS, LocalStore
from real_estate_dag.resources.uploads import MANIFEST

MAX_RUNS_PER_TICK = 25


def manifest_run_key(key: str, manifest_sha256: str) -> str:
    return f"{key}:{manifest_sha256[:16]}"


@sensor(
    job=showcase_job,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches uploads/<property>/manifest.json in the local store; a new or changed, valid "
    "manifest whose files are all present adds the property partition and requests one run, unless the "
    "manifest says its uploader launches the run itself (\"launch\": \"client\").",
)
def local_upload_sensor(context: SensorEvaluationContext, store: LocalStore) -> SensorResult:
    # cursor: upload folder -> version of the manifest last handled (run requested or rejected)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    keys_by_folder = {folder: property_key(folder) for folder in store.list_folders(UPLOADS)}
    folders_by_key: dict[str, list[str]] = {}
    for folder, key in keys_by_folder.items():
        folders_by_key.setdefault(key, []).append(folder)

    run_requests: list[RunRequest] = []
    new_keys: list[str] = []
    for folder, key in keys_by_folder.items():
        if len(run_requests) >= MAX_RUNS_PER_TICK:
            context.log.info(f"{MAX_RUNS_PER_TICK} runs requested this tick; the rest wait for the next")
            break
        manifest_key = f"{UPLOADS}/{folder}/{MANIFEST}"
        listed = [o for o in store.list_objects(f"{UPLOADS}/{folder}") if o.key == manifest_key]
        if not listed or seen.get(folder) == listed[0].version:
            continue
        raw = store.read_bytes(manifest_key)
        if len(folders_by_key[key]) > 1:
            others = ", ".join(sorted(folders_by_key[key]))
            context.log.error(f"{manifest_key}: upload folders {others} all map to property key {key!r}; "
                              "rename one of them")
            seen[folder] = listed[0].version
            continue
        try:
            manifest = parse_manifest(raw, file=manifest_key, default_property_id=folder)
        except ManifestError as exc:
            context.log.error(f"rejected {exc}")
            seen[folder] = listed[0].version
            continue
        if manifest.launch == "client":
            context.log.info(f"{manifest_key}: launched by its uploader (\"launch\": \"client\"); not requesting a run")
            seen[folder] = listed[0].version
            continue
        missing = [name for name in manifest.videos + ((manifest.music,) if manifest.music else ())
                   if not store.exists(f"{UPLOADS}/{folder}/{name}")]
        if missing:
            context.log.info(f"{manifest_key}: waiting for {', '.join(missing)}")
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if key != folder:
            context.log.info(f"upload folder {folder!r} maps to property key {key!r}")
        if key not in new_keys and not context.instance.has_dynamic_partition(property_partitions.name, key):
            new_keys.append(key)
        run_requests.append(RunRequest(
            run_key=manifest_run_key(key, digest),
            partition_key=key,
            tags={"redag/upload_folder": folder, "redag/manifest_sha256": digest},
        ))
        seen[folder] = listed[0].version
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[property_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps(seen, sort_keys=True),
    )
