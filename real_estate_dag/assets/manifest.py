"""property_manifest: the validated manifest plus probed facts about every referenced file."""

import hashlib
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    bad_input,
    markdown_table,
    property_partitions,
)
from real_estate_dag.ops.keys import UnsafePartitionKeyError, check_partition_key
from real_estate_dag.ops.manifest import MAX_MANIFEST_BYTES, ManifestError, parse_manifest
from real_estate_dag.ops.probe import MediaError, probe_audio, probe_video
from real_estate_dag.ops.validate import LimitError, MediaLimits, check_file_size, check_total_footage
from real_estate_dag.resources.env import env_number
from real_estate_dag.resources.store import UPLOADS, Store, StoredObject, UnsafeKeyError
from real_estate_dag.resources.uploads import MANIFEST, UploadNotFoundError, upload_folder

_DEFAULTS = MediaLimits()


class ManifestConfig(Config):
    """Limits on uploads; each defaults to its REDAG_* variable, then to the built-in value."""

    max_file_mib: int = int(env_number("REDAG_MAX_FILE_MIB", _DEFAULTS.max_file_bytes / 2**20))
    max_video_seconds: float = env_number("REDAG_MAX_VIDEO_SECONDS", _DEFAULTS.max_video_seconds)
    min_video_seconds: float = env_number("REDAG_MIN_VIDEO_SECONDS", _DEFAULTS.min_video_seconds)
    max_total_seconds: float = env_number("REDAG_MAX_TOTAL_SECONDS", _DEFAULTS.max_total_seconds)
    max_pixels: int = int(env_number("REDAG_MAX_PIXELS", _DEFAULTS.max_pixels))
    min_short_side: int = int(env_number("REDAG_MIN_SHORT_SIDE", _DEFAULTS.min_short_side))
    max_fps: float = env_number("REDAG_MAX_FPS", _DEFAULTS.max_fps)
    max_audio_seconds: float = env_number("REDAG_MAX_AUDIO_SECONDS", _DEFAULTS.max_audio_seconds)

    def limits(self) -> MediaLimits:
        fields = self.model_dump()
        return MediaLimits(max_file_bytes=fields.pop("max_file_mib") * 2**20, **fields)


def upload_file(store: Store, listing: dict[str, StoredObject], folder: str, name: str, what: str,
                limits: MediaLimits) -> Path:
    """The local path of one referenced upload, after the checks that need no decoding."""
    key = f"{UPLOADS}/{folder}/{name}"
    if key not in listing:  # listings hold plain files only: links are never followed
        try:
            present = store.exists(key)
        except UnsafeKeyError as exc:
            raise bad_input(f"{key}: {what} is a link pointing outside the store", file=key, check="path") from exc
        if present:
            raise bad_input(f"{key}: {what} is a link, not a plain file inside {UPLOADS}/{folder}/",
                            file=key, check="path")
        raise bad_input(f"{key}: {what} but missing from {UPLOADS}/{folder}/", file=key, check="missing")
    try:
        check_file_size(key, listing[key].size, limits)
    except LimitError as exc:
        raise bad_input(str(exc), file=key, check="limit", size_bytes=listing[key].size) from exc
    return store.local_path(key)


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "json"},
    code_version="manifest-v2",
    retry_policy=STORAGE_RETRY,
    description="The property's manifest.json, validated, with ffprobe-style facts for each video "
    "and the music track. Fails fast, naming the file and the reason, on bad input.",
)
def property_manifest(
    context: AssetExecutionContext, config: ManifestConfig, store: Store
) -> MaterializeResult:
    limits = config.limits()
    try:
        key = check_partition_key(context.partition_key)
        folder = upload_folder(store, key)
    except (UnsafePartitionKeyError, UploadNotFoundError) as exc:
        raise bad_input(str(exc), property_key=context.partition_key, check="partition") from exc
    manifest_key = f"{UPLOADS}/{folder}/{MANIFEST}"
    listing = {o.key: o for o in store.list_objects(f"{UPLOADS}/{folder}")}
    upload_file(store, listing, folder, MANIFEST, "the manifest", limits)
    if listing[manifest_key].size > MAX_MANIFEST_BYTES:
        raise bad_input(f"{manifest_key}: is {listing[manifest_key].size} bytes; the limit is "
                        f"{MAX_MANIFEST_BYTES}", file=manifest_key, check="manifest")
    raw = store.read_bytes(manifest_key)
    try:
        manifest = parse_manifest(raw, file=manifest_key, default_property_id=folder)
    except ManifestError as exc:
        raise bad_input(str(exc), file=exc.file, field=exc.field, check="manifest") from exc

    videos: list[dict[str, Any]] = []
    for name in manifest.videos:
        object_key = f"{UPLOADS}/{folder}/{name}"
        path = upload_file(store, listing, folder, name, "listed in the manifest", limits)
        try:
            facts = probe_video(path, object_key, limits)
        except LimitError as exc:
            raise bad_input(str(exc), file=object_key, check="limit") from exc
        except MediaError as exc:
            raise bad_input(str(exc), file=object_key, check="media") from exc
        videos.append({"name": name, "key": object_key, "facts": facts.to_dict()})
        context.log.info(f"probed {name}: {facts.width}x{facts.height} {facts.fps:g} fps "
                         f"{facts.duration_s:.1f} s rotation={facts.rotation}")

    total = sum(v["facts"]["duration_s"] for v in videos)
    try:
        check_total_footage(total, limits)
    except LimitError as exc:
        raise bad_input(f"{manifest_key}: {exc}", file=manifest_key, check="limit") from exc

    music = None
    if manifest.music:
        music_key = f"{UPLOADS}/{folder}/{manifest.music}"
        path = upload_file(store, listing, folder, manifest.music, "listed as music", limits)
        try:
            audio = probe_audio(path, music_key, limits)
        except LimitError as exc:
            raise bad_input(str(exc), file=music_key, check="limit") from exc
        except MediaError as exc:
            raise bad_input(str(exc), file=music_key, check="media") from exc
        music = {"name": manifest.music, "key": music_key, "duration_s": audio.duration_s}

    value = {
        "property_key": key,
        "upload_folder": folder,
        "manifest_sha256": hashlib.sha256(raw).hexdigest(),
        "manifest": manifest.to_dict(),
        "videos": videos,
        "music": music,
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
            "manifest_sha256": value["manifest_sha256"],
            "videos": markdown_table([
                {"video": v["name"], "size": f"{v['facts']['width']}x{v['facts']['height']}",
                 "fps": v["facts"]["fps"], "seconds": v["facts"]["duration_s"],
                 "rotation": v["facts"]["rotation"], "codec": v["facts"]["codec"],
                 "audio": v["facts"]["has_audio"]}
                for v in videos
            ]),
        },
    )
