"""Upload sensors: a new or changed uploads/<folder>/manifest.json becomes one run of its property.

One evaluation serves both stores. The two sensors differ in what names a manifest version in the
run key: its content digest on the local store (a file touched but unchanged does not run again), its
ETag on S3. Definitions registers the one that matches the configured store.
"""

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from real_estate_dag.assets.common import property_partitions
from real_estate_dag.jobs import showcase_job
from real_estate_dag.ops.keys import property_key
from real_estate_dag.ops.manifest import ManifestError, parse_manifest
from real_estate_dag.resources.env import env_number
from real_estate_dag.resources.store import UPLOADS, Store, StoredObject, UnsafeKeyError
from real_estate_dag.resources.uploads import MANIFEST

MAX_RUNS_PER_TICK = 25
MAX_MANIFEST_READS_PER_TICK = 100
UPLOAD_WAIT_S = env_number("REDAG_UPLOAD_WAIT_S", 3600)

RunVersion = Callable[[StoredObject, bytes], str]


def content_version(manifest: StoredObject, raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def etag_version(manifest: StoredObject, raw: bytes) -> str:
    return manifest.version


@dataclass
class UploadCursor:
    # upload folder -> manifest version handled: run requested or manifest rejected
    done: dict[str, str] = field(default_factory=dict)
    # upload folder -> {"version", "since" (unix time first seen waiting), "missing", "gave_up"}
    waiting: dict[str, dict] = field(default_factory=dict)
    # the folder the last tick stopped at: with more work than one tick allows, the next tick goes on
    # from there, so no property waits behind others forever
    after: str = ""

    @classmethod
    def parse(cls, text: str | None) -> "UploadCursor":
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def evaluate_uploads(
    context: SensorEvaluationContext,
    store: Store,
    *,
    run_version: RunVersion,
    wait_s: float,
    max_runs: int = MAX_RUNS_PER_TICK,
    max_reads: int = MAX_MANIFEST_READS_PER_TICK,
) -> SensorResult:
    cursor = UploadCursor.parse(context.cursor)
    files: dict[str, dict[str, StoredObject]] = {}  # folder -> name inside the folder -> object
    for obj in store.list_objects(UPLOADS):  # one paged listing per tick, however many keys
        folder, _, name = obj.key.removeprefix(f"{UPLOADS}/").partition("/")
        if name:
            files.setdefault(folder, {})[name] = obj
    manifests = {folder: names[MANIFEST] for folder, names in files.items() if MANIFEST in names}
    cursor.done = {f: v for f, v in cursor.done.items() if f in manifests}
    cursor.waiting = {f: w for f, w in cursor.waiting.items() if f in manifests}
    folders_by_key: dict[str, list[str]] = {}
    for folder in manifests:
        folders_by_key.setdefault(property_key(folder), []).append(folder)

    todo = sorted(f for f, m in manifests.items() if cursor.done.get(f) != m.version)
    todo = [f for f in todo if f > cursor.after] + [f for f in todo if f <= cursor.after]
    run_requests: list[RunRequest] = []
    new_keys: list[str] = []
    reads = 0
    for position, folder in enumerate(todo):
        if reads >= max_reads or len(run_requests) >= max_runs:
            context.log.info(f"{len(todo) - position} changed manifests wait for the next tick "
                             f"(at most {max_reads} reads and {max_runs} runs per tick)")
            break
        cursor.after = folder
        manifest_key = f"{UPLOADS}/{folder}/{MANIFEST}"
        manifest = manifests[folder]
        waiting = cursor.waiting.get(folder)
        if waiting and waiting["version"] == manifest.version:
            still_missing = [name for name in waiting["missing"] if name not in files[folder]]
            if still_missing:  # known from an earlier tick: no need to read the manifest again
                if not waiting["gave_up"]:
                    _wait_or_give_up(context, cursor, folder, manifest, still_missing, wait_s)
                continue
        key = property_key(folder)
        if len(folders_by_key[key]) > 1:
            context.log.error(f"{manifest_key}: upload folders {', '.join(sorted(folders_by_key[key]))} all map "
                              f"to property key {key!r}; rename one of them")
            cursor.done[folder] = manifest.version
            continue
        reads += 1
        try:
            raw = store.read_bytes(manifest_key)
            parsed = parse_manifest(raw, file=manifest_key, default_property_id=folder)
        except (ManifestError, UnsafeKeyError) as exc:
            context.log.error(f"rejected {exc}" if isinstance(exc, ManifestError) else f"{manifest_key}: {exc}")
            cursor.done[folder] = manifest.version
            continue
        except Exception as exc:  # e.g. the store failing after its retries: this property, next tick
            context.log.error(f"{manifest_key}: could not be read ({type(exc).__name__}: {exc}); "
                              "trying again next tick")
            continue
        if parsed.launch == "client":
            context.log.info(f"{manifest_key}: launched by its uploader (\"launch\": \"client\"); "
                             "not requesting a run")
            cursor.waiting.pop(folder, None)
            cursor.done[folder] = manifest.version
            continue
        listed = parsed.videos + ((parsed.music,) if parsed.music else ())
        missing = [name for name in listed if name not in files[folder]]
        if missing:
            _wait_or_give_up(context, cursor, folder, manifest, missing, wait_s)
            continue
        cursor.waiting.pop(folder, None)
        cursor.done[folder] = manifest.version
        if key != folder:
            context.log.info(f"upload folder {folder!r} maps to property key {key!r}")
        if key not in new_keys and not context.instance.has_dynamic_partition(property_partitions.name, key):
            new_keys.append(key)
        version = run_version(manifest, raw)
        run_requests.append(RunRequest(
            run_key=f"{key}:{version}",
            partition_key=key,
            tags={"redag/upload_folder": folder, "redag/manifest_sha256": hashlib.sha256(raw).hexdigest(),
                  "redag/manifest_version": version},
        ))
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[property_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=cursor.dump(),
    )


def _wait_or_give_up(context: SensorEvaluationContext, cursor: UploadCursor, folder: str,
                     manifest: StoredObject, missing: list[str], wait_s: float) -> None:
    """Log what a manifest waits for; past ``wait_s``, say once that the sensor gave up. A property
    given up on still starts if its files arrive later, or with a new manifest."""
    now = time.time()
    earlier = cursor.waiting.get(folder)
    since = earlier["since"] if earlier and earlier["version"] == manifest.version else now
    waited = now - since
    gave_up = waited >= wait_s
    cursor.waiting[folder] = {"version": manifest.version, "since": since, "missing": missing, "gave_up": gave_up}
    if gave_up:
        context.log.error(f"{manifest.key}: gave up after waiting {waited:.0f} s for {', '.join(missing)}, "
                          "listed in the manifest but not uploaded; the property starts once they arrive")
    else:
        context.log.info(f"{manifest.key}: waiting for {', '.join(missing)} "
                         f"({waited:.0f} s so far, giving up after {wait_s:.0f} s)")


def upload_sensor(name: str, run_version: RunVersion, store_kind: str, minimum_interval_seconds: int,
                  wait_s: float = UPLOAD_WAIT_S) -> SensorDefinition:
    @sensor(
        name=name,
        job=showcase_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Watches uploads/<property>/manifest.json in the {store_kind}; a new or changed, valid "
        "manifest whose files are all present adds the property partition and requests one run. Reports "
        f"a manifest whose files are still missing after {wait_s:.0f} s as an error.",
    )
    def _upload_sensor(context: SensorEvaluationContext, store: Store) -> SensorResult:
        return evaluate_uploads(context, store, run_version=run_version, wait_s=wait_s)

    return _upload_sensor


local_upload_sensor = upload_sensor("local_upload_sensor", content_version, "local store", 15)
s3_upload_sensor = upload_sensor("s3_upload_sensor", etag_version, "S3 bucket", 30)
