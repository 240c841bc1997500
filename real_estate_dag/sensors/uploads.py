"""Upload sensors: a new or changed uploads/<folder>/manifest.json becomes one run of its property.

One evaluation serves both stores. The two sensors differ in what names a manifest version in the
run key: its content digest on the local store (a file touched but unchanged does not run again), its
ETag on S3. The run key also holds the store versions of the files the manifest lists, so a replaced
video or music file requests a new run. Definitions registers the one that matches the configured store.
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
from real_estate_dag.ops.inputs import shown
from real_estate_dag.ops.keys import property_key
from real_estate_dag.ops.manifest import ManifestError, folder_photos, parse_manifest
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import UPLOADS, Store, StoredObject, UnsafeKeyError
from real_estate_dag.resources.uploads import FOLDER_TAG, MANIFEST, unlisted_kind

MAX_RUNS_PER_TICK = 25
MAX_MANIFEST_READS_PER_TICK = 100

RunVersion = Callable[[StoredObject, bytes], str]


def content_version(manifest: StoredObject, raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def etag_version(manifest: StoredObject, raw: bytes) -> str:
    return manifest.version


def versions_digest(objects: dict[str, StoredObject], names: list[str]) -> str:
    """One short digest of the store versions of ``names``: it changes when any of them is replaced."""
    text = "\n".join(f"{name}\0{objects[name].version}" for name in sorted(names))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass
class UploadCursor:
    # upload folder -> the state handled (versions of every file in it; "link" for a linked folder):
    # run requested or upload refused, so a refused upload is read and reported once
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


LINKED = "link"


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
    linked = _linked_folders(context, store, files, cursor)
    cursor.done = {f: v for f, v in cursor.done.items() if f in manifests or f in linked}
    cursor.waiting = {f: w for f, w in cursor.waiting.items() if f in manifests}
    folders_by_key: dict[str, list[str]] = {}
    for folder in manifests:
        folders_by_key.setdefault(property_key(folder), []).append(folder)

    states = {folder: versions_digest(files[folder], list(files[folder])) for folder in manifests}
    for folder, manifest in manifests.items():  # a cursor written before states held file versions
        if cursor.done.get(folder) == manifest.version:
            cursor.done[folder] = states[folder]
    todo = sorted(f for f in manifests if cursor.done.get(f) != states[f])
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
            context.log.error(f"{shown(manifest_key)}: upload folders "
                              f"{', '.join(shown(f) for f in sorted(folders_by_key[key]))} all map "
                              f"to property key {key!r}; rename one of them")
            cursor.done[folder] = states[folder]
            continue
        reads += 1
        try:
            raw = store.read_bytes(manifest_key)
        except UnsafeKeyError as exc:
            context.log.error(f"{shown(manifest_key)}: {exc}")
            cursor.done[folder] = states[folder]
            continue
        except Exception as exc:  # e.g. the store failing after its retries: this property, next tick
            context.log.error(f"{shown(manifest_key)}: could not be read ({type(exc).__name__}: {shown(str(exc))}); "
                              "trying again next tick")
            continue
        try:
            parsed = parse_manifest(raw, file=manifest_key, default_property_id=folder,
                                    folder_photos=folder_photos(files[folder]))
        except (ManifestError, RecursionError) as exc:  # the same bytes fail the same way: refused once
            context.log.error(f"rejected {shown(str(exc))}" if isinstance(exc, ManifestError) else
                              f"rejected {shown(manifest_key)}: cannot be parsed ({type(exc).__name__})")
            cursor.done[folder] = states[folder]
            continue
        if parsed.launch == "client":
            context.log.info(f"{shown(manifest_key)}: launched by its uploader (\"launch\": \"client\"); "
                             "not requesting a run")
            cursor.waiting.pop(folder, None)
            cursor.done[folder] = states[folder]
            continue
        listed = [*parsed.videos, *(photo.file for photo in parsed.photos), *((parsed.music,) if parsed.music else ())]
        missing = [name for name in listed if name not in files[folder]]
        unusable = {name: kind for name in missing if (kind := unlisted_kind(store, f"{UPLOADS}/{folder}/{name}"))}
        if unusable:
            for name, kind in unusable.items():
                context.log.error(f"{shown(f'{UPLOADS}/{folder}/{name}')}: listed in {shown(manifest_key)} "
                                  f"{kind}, not a plain file; not requesting a run")
            cursor.waiting.pop(folder, None)
            cursor.done[folder] = states[folder]
            continue
        if missing:
            _wait_or_give_up(context, cursor, folder, manifest, missing, wait_s)
            continue
        cursor.waiting.pop(folder, None)
        cursor.done[folder] = states[folder]
        if key != folder:
            context.log.info(f"upload folder {shown(folder)!r} maps to property key {key!r}")
        if key not in new_keys and not context.instance.has_dynamic_partition(property_partitions.name, key):
            new_keys.append(key)
        version = run_version(manifest, raw)
        inputs = versions_digest(files[folder], listed)  # a replaced video or track is a new run
        run_requests.append(RunRequest(
            run_key=f"{key}:{version}:{inputs}",
            partition_key=key,
            tags={FOLDER_TAG: folder, "redag/manifest_sha256": hashlib.sha256(raw).hexdigest(),
                  "redag/manifest_version": version, "redag/inputs_version": inputs},
        ))
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[property_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=cursor.dump(),
    )


def _linked_folders(context: SensorEvaluationContext, store: Store, files: dict[str, dict[str, StoredObject]],
                    cursor: UploadCursor) -> set[str]:
    """Upload folders that are links (the listing, which never follows links, shows no file in them):
    each is reported once."""
    linked = set()
    for folder in store.list_folders(UPLOADS):
        if folder in files:
            continue
        kind = unlisted_kind(store, f"{UPLOADS}/{folder}/{MANIFEST}")
        if kind is None:
            continue  # an empty folder, or one whose upload has not started
        linked.add(folder)
        if cursor.done.get(folder) != LINKED:
            what = f"{UPLOADS}/{folder}/{MANIFEST}" if kind == "is a folder" else f"{UPLOADS}/{folder}"
            whose = "" if kind == "is a folder" else ": the upload folder or its manifest"
            context.log.error(f"{shown(what)}{whose} {kind}; links and folders are never read as a "
                              "manifest, so no run starts for it")
            cursor.done[folder] = LINKED
    return linked


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
    names = ", ".join(shown(name) for name in missing)
    if gave_up:
        context.log.error(f"{shown(manifest.key)}: gave up after waiting {waited:.0f} s for {names}, "
                          "listed in the manifest but not uploaded; the property starts once they arrive")
    else:
        context.log.info(f"{shown(manifest.key)}: waiting for {names} "
                         f"({waited:.0f} s so far, giving up after {wait_s:.0f} s)")


def upload_sensor(name: str, run_version: RunVersion, store_kind: str, minimum_interval_seconds: int
                  ) -> SensorDefinition:
    @sensor(
        name=name,
        job=showcase_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Watches uploads/<property>/manifest.json in the {store_kind}; a new or changed, valid "
        "manifest whose files are all present, or a replaced video or music file, adds the property "
        "partition and requests one run. Reports a manifest whose files are still missing after the "
        "limits resource's upload_wait_s as an error, and a link or folder where a file is listed at once.",
    )
    def _upload_sensor(context: SensorEvaluationContext, store: Store, limits: UploadLimits) -> SensorResult:
        return evaluate_uploads(context, store, run_version=run_version, wait_s=limits.upload_wait_s)

    return _upload_sensor


local_upload_sensor = upload_sensor("local_upload_sensor", content_version, "local store", 15)
s3_upload_sensor = upload_sensor("s3_upload_sensor", etag_version, "S3 bucket", 30)
