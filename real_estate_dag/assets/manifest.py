"""property_manifest: the validated manifest plus probed facts about every referenced file."""

import hashlib
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import GROUP, OWNERS, bad_input, markdown_table, property_partitions
from real_estate_dag.ops.manifest import ManifestError, parse_manifest
from real_estate_dag.ops.probe import MediaError, probe_audio, probe_video
from real_estate_dag.resources.store import UPLOADS, Store, UnsafeKeyError
from real_estate_dag.resources.uploads import MANIFEST, UploadNotFoundError, upload_folder


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "json"},
    code_version="manifest-v1",
    description="The property's manifest.json, validated, with ffprobe-style facts for each video "
    "and the music track. Fails fast, naming the file and the reason, on bad input.",
)
def property_manifest(context: AssetExecutionContext, store: Store) -> MaterializeResult:
    key = context.partition_key
    try:
        folder = upload_folder(store, key)
    except UploadNotFoundError as exc:
        raise bad_input(str(exc), property_key=key) from exc
    manifest_key = f"{UPLOADS}/{folder}/{MANIFEST}"
    raw = store.read_bytes(manifest_key)
    try:
        manifest = parse_manifest(raw, file=manifest_key, default_property_id=folder)
    except ManifestError as exc:
        raise bad_input(str(exc), file=exc.file, field=exc.field) from exc

    videos: list[dict[str, Any]] = []
    for name in manifest.videos:
        object_key = f"{UPLOADS}/{folder}/{name}"
        try:
            facts = probe_video(store.local_path(object_key), object_key)
        except (FileNotFoundError, UnsafeKeyError) as exc:
            raise bad_input(f"{object_key}: listed in the manifest but not readable: {exc}",
                            file=object_key) from exc
        except MediaError as exc:
            raise bad_input(str(exc), file=object_key) from exc
        videos.append({"name": name, "key": object_key, "facts": facts.to_dict()})
        context.log.info(f"probed {name}: {facts.width}x{facts.height} {facts.fps:g} fps "
                         f"{facts.duration_s:.1f} s rotation={facts.rotation}")

    music = None
    if manifest.music:
        music_key = f"{UPLOADS}/{folder}/{manifest.music}"
        try:
            audio = probe_audio(store.local_path(music_key), music_key)
        except (FileNotFoundError, UnsafeKeyError) as exc:
            raise bad_input(f"{music_key}: listed as music but not readable: {exc}", file=music_key) from exc
        except MediaError as exc:
            raise bad_input(str(exc), file=music_key) from exc
        music = {"name": manifest.music, "key": music_key, "duration_s": audio.duration_s}

    value = {
        "property_key": key,
        "upload_folder": folder,
        "manifest_sha256": hashlib.sha256(raw).hexdigest(),
        "manifest": manifest.to_dict(),
        "videos": videos,
        "music": music,
    }
    total = sum(v["facts"]["duration_s"] for v in videos)
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
