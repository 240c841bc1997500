"""Copying a local folder of walkthrough videos into the store as one property upload."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from real_estate_dag.client.endpoint import ClientError
from real_estate_dag.ops.keys import property_key
from real_estate_dag.ops.manifest import AUDIO_SUFFIXES, VIDEO_SUFFIXES, ManifestError, parse_manifest
from real_estate_dag.resources.env import store_from_env
from real_estate_dag.resources.store import UPLOADS, Store
from real_estate_dag.resources.uploads import MANIFEST


@dataclass(frozen=True)
class Upload:
    property_id: str
    key: str  # the partition key
    folder: str  # uploads/<property_id>
    files: tuple[str, ...]  # store keys written, manifest last
    manifest_sha256: str

    @property
    def folder_name(self) -> str:
        """The folder under uploads/, as the run tag ``redag/upload_folder`` names it."""
        return self.folder.removeprefix(f"{UPLOADS}/")


def configured_store() -> Store:
    """The store the code location uses, from the same environment (REDAG_STORE, REDAG_STORE_ROOT, REDAG_S3_*)."""
    return store_from_env().process_config_and_initialize()


def build_manifest(property_id: str, source: Path, music: Path | None = None, listing: Path | None = None,
                   target_duration_s: float | None = None, launch: str = "client") -> tuple[dict[str, Any], list[Path]]:
    """The manifest for the videos directly inside ``source``; validated, errors name the flag or file."""
    if not property_id or property_id != property_id.strip() or "/" in property_id or "\\" in property_id \
            or property_id in (".", "..") or "\x00" in property_id:
        raise ClientError(f"--property-id {property_id!r}: must be a name without slashes or surrounding spaces")
    if len(property_id.encode()) > 255:
        raise ClientError(f"--property-id: is {len(property_id.encode())} bytes in UTF-8; it names the upload "
                          "folder, so at most 255")
    if not source.is_dir():
        raise ClientError(f"{source}: not a folder")
    videos = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise ClientError(f"{source}: no videos ({' '.join(VIDEO_SUFFIXES)}) in this folder")
    body: dict[str, Any] = {"property_id": property_id, "videos": [v.name for v in videos], "launch": launch}
    files = list(videos)
    if music is not None:
        if not music.is_file():
            raise ClientError(f"--music {music}: no such file")
        if music.suffix.lower() not in AUDIO_SUFFIXES:
            raise ClientError(f"--music {music}: must end with one of {', '.join(AUDIO_SUFFIXES)}")
        if music.name in body["videos"]:
            raise ClientError(f"--music {music}: has the same name as a video")
        body["music"] = music.name
        files.append(music)
    if listing is not None:
        try:
            body["listing"] = json.loads(listing.read_text())
        except OSError as exc:
            raise ClientError(f"--listing {listing}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ClientError(f"--listing {listing}: not valid JSON: {exc}") from exc
    if target_duration_s is not None:
        body["options"] = {"target_duration_s": target_duration_s}
    try:
        parse_manifest(json.dumps(body).encode(), file=f"{UPLOADS}/{property_id}/{MANIFEST}")
    except ManifestError as exc:
        raise ClientError(str(exc)) from exc
    return body, files


def upload_property(store: Store, property_id: str, source: Path, *, music: Path | None = None,
                    listing: Path | None = None, target_duration_s: float | None = None,
                    launch: str = "client") -> Upload:
    """Copy the videos (and music) to ``uploads/<property_id>/`` and write ``manifest.json`` last."""
    body, files = build_manifest(property_id, source, music, listing, target_duration_s, launch)
    folder = f"{UPLOADS}/{property_id}"
    written = []
    for file in files:
        store.publish(file, f"{folder}/{file.name}")
        written.append(f"{folder}/{file.name}")
    raw = json.dumps(body, indent=2).encode()
    store.write_bytes(f"{folder}/{MANIFEST}", raw)
    written.append(f"{folder}/{MANIFEST}")
    return Upload(property_id=property_id, key=property_key(property_id), folder=folder, files=tuple(written),
                  manifest_sha256=hashlib.sha256(raw).hexdigest())
