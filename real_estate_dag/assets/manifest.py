"""property_manifest: the validated manifest plus probed facts about every referenced file."""

import hashlib
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from PIL import Image

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    bad_input,
    property_partitions,
    table,
)
from real_estate_dag.ops.inputs import InputChangedError, fingerprint, manifest_inputs, shown, verify_unchanged
from real_estate_dag.ops.keys import UnsafePartitionKeyError, check_partition_key
from real_estate_dag.ops.manifest import MAX_MANIFEST_BYTES, ManifestError, parse_manifest
from real_estate_dag.ops.probe import MediaError, probe_audio, probe_video
from real_estate_dag.ops.validate import LimitError, MediaLimits, check_file_size, check_total_footage
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import UPLOADS, Store, StoredObject, UnsafeKeyError
from real_estate_dag.resources.uploads import (
    FOLDER_TAG,
    MANIFEST,
    UploadNotFoundError,
    unlisted_kind,
    upload_folder,
)
from real_estate_dag.retries import transient_retries


def upload_file(store: Store, listing: dict[str, StoredObject], folder: str, name: str, what: str,
                limits: MediaLimits) -> Path:
    """The local path of one referenced upload, after the checks that need no decoding."""
    key = f"{UPLOADS}/{folder}/{name}"
    if key not in listing:  # listings hold plain files only: links are never followed
        kind = unlisted_kind(store, key)
        if kind == "is a link":
            kind += f", not a plain file inside {UPLOADS}/{shown(folder)}/"
        if kind:
            raise bad_input(f"{shown(key)}: {what} {kind}", file=key, check="path")
        raise bad_input(f"{shown(key)}: {what} but missing from {UPLOADS}/{shown(folder)}/", file=key,
                        check="missing")
    try:
        check_file_size(shown(key), listing[key].size, limits)
    except LimitError as exc:
        raise bad_input(str(exc), file=key, check="limit", size_bytes=listing[key].size) from exc
    return store.local_path(key)


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "json"},
    code_version="manifest-v4",
    description="The property's manifest.json, validated, with ffprobe-style facts for each video "
    "and the music track. Fails fast, naming the file and the reason, on bad input.",
)
def property_manifest(context: AssetExecutionContext, limits: UploadLimits, store: Store) -> MaterializeResult:
    with transient_retries(context):
        return _read_manifest(context, limits, store)


def _read_manifest(context: AssetExecutionContext, limits: UploadLimits, store: Store) -> MaterializeResult:
    media_limits = limits.media_limits()
    tagged = context.run.tags.get(FOLDER_TAG)
    try:
        key = check_partition_key(context.partition_key)
        folder = upload_folder(store, key, tagged)
    except (UnsafePartitionKeyError, UploadNotFoundError) as exc:
        raise bad_input(str(exc), property_key=context.partition_key, check="partition") from exc
    manifest_key = f"{UPLOADS}/{folder}/{MANIFEST}"
    try:
        listing = {o.key: o for o in store.list_objects(f"{UPLOADS}/{folder}")}
    except UnsafeKeyError as exc:
        raise bad_input(f"{shown(UPLOADS + '/' + folder)}: the upload folder is a link pointing outside the "
                        "store", file=f"{UPLOADS}/{folder}", check="path") from exc
    upload_file(store, listing, folder, MANIFEST, "the manifest", media_limits)
    if listing[manifest_key].size > MAX_MANIFEST_BYTES:
        raise bad_input(f"{shown(manifest_key)}: is {listing[manifest_key].size} bytes; the limit is "
                        f"{MAX_MANIFEST_BYTES}", file=manifest_key, check="manifest")
    raw = store.read_bytes(manifest_key)
    try:
        manifest = parse_manifest(raw, file=shown(manifest_key), default_property_id=folder)
    except ManifestError as exc:
        raise bad_input(str(exc), file=exc.file, field=exc.field, check="manifest") from exc
    except RecursionError as exc:  # nesting deeper than the JSON parser goes
        raise bad_input(f"{shown(manifest_key)}: cannot be parsed ({type(exc).__name__}: {exc})",
                        file=manifest_key, check="manifest") from exc
    context.log.info(f"reading {shown(UPLOADS + '/' + folder)}" + (f" (from the run's {FOLDER_TAG} tag)"
                                                                    if tagged is not None else ""))

    videos: list[dict[str, Any]] = []
    for name in manifest.videos:
        object_key = f"{UPLOADS}/{folder}/{name}"
        path = upload_file(store, listing, folder, name, "listed in the manifest", media_limits)
        try:
            facts = probe_video(path, shown(object_key), media_limits)
        except LimitError as exc:
            raise bad_input(str(exc), file=object_key, check="limit") from exc
        except MediaError as exc:
            raise bad_input(str(exc), file=object_key, check="media") from exc
        videos.append({"name": name, "key": object_key, "facts": facts.to_dict(), "fingerprint": fingerprint(path)})
        context.log.info(f"probed {shown(name)}: {facts.width}x{facts.height} {facts.fps:g} fps "
                         f"{facts.duration_s:.1f} s rotation={facts.rotation}")

    total = sum(v["facts"]["duration_s"] for v in videos)
    try:
        check_total_footage(total, media_limits)
    except LimitError as exc:
        raise bad_input(f"{shown(manifest_key)}: {exc}", file=manifest_key, check="limit") from exc

    music = None
    if manifest.music:
        music_key = f"{UPLOADS}/{folder}/{manifest.music}"
        path = upload_file(store, listing, folder, manifest.music, "listed as music", media_limits)
        try:
            audio = probe_audio(path, shown(music_key), media_limits)
        except LimitError as exc:
            raise bad_input(str(exc), file=music_key, check="limit") from exc
        except MediaError as exc:
            raise bad_input(str(exc), file=music_key, check="media") from exc
        music = {"name": manifest.music, "key": music_key, "duration_s": audio.duration_s,
                 "fingerprint": fingerprint(path)}

    brand_files = {}
    for field, name in manifest.brand.files().items():
        file_key = f"{UPLOADS}/{folder}/{name}"
        path = upload_file(store, listing, folder, name, f"listed as brand.{field}", media_limits)
        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
            raise bad_input(f"{shown(file_key)}: brand.{field} is not a readable image ({exc})", file=file_key,
                            field=f"brand.{field}", check="media") from exc
        brand_files[field] = {"name": name, "key": file_key, "fingerprint": fingerprint(path)}

    value = {
        "property_key": key,
        "upload_folder": folder,
        "manifest_sha256": hashlib.sha256(raw).hexdigest(),
        "manifest": manifest.to_dict(),
        "videos": videos,
        "music": music,
        "brand_files": brand_files,
    }
    return MaterializeResult(
        value=value,
        metadata={
            "property_id": manifest.property_id,
            "upload_folder": MetadataValue.path(f"{UPLOADS}/{folder}"),
            "video_count": len(videos),
            "footage_seconds": round(total, 2),
            "target_duration_s": manifest.options.target_duration_s,
            "aspects": ", ".join(manifest.options.aspects),
            "music": manifest.music or "(source audio)",
            "brand": ", ".join(f for f in ("agent_name", "agent_phone", "agent_email", "brokerage", "listing_url")
                               if getattr(manifest.brand, f)) or "(none)",
            "manifest_sha256": value["manifest_sha256"],
            "folder_from": "run tag" if tagged is not None else "the only folder mapping to the key",
            "inputs": table([
                {"file": entry["key"], "bytes": entry["fingerprint"]["size_bytes"],
                 "sha256": entry["fingerprint"]["sha256"]} for entry in manifest_inputs(value)
            ]),
            "videos": table([
                {"video": v["name"], "size": f"{v['facts']['width']}x{v['facts']['height']}",
                 "fps": v["facts"]["fps"], "seconds": v["facts"]["duration_s"],
                 "rotation": v["facts"]["rotation"], "codec": v["facts"]["codec"],
                 "audio": v["facts"]["has_audio"]}
                for v in videos
            ]),
        },
    )


def verify_inputs(store: Store, manifest_value: dict[str, Any]) -> None:
    """Fail, once, when a video or the music track is no longer the file property_manifest probed."""
    try:
        verify_unchanged(manifest_inputs(manifest_value), store.local_path)
    except InputChangedError as exc:
        raise bad_input(str(exc), check="changed") from exc
