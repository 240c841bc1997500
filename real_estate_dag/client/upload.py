"""Copying a local folder of walkthrough videos into the store as one property upload."""

import hashlib
import json
from collections.abc import Mapping, Sequence
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


def build_manifest(property_id: str, source: Path, music: Path | None = None,
                   listing: Path | Mapping[str, Any] | None = None, target_duration_s: float | None = None,
                   launch: str = "client", *, videos: Sequence[str] | None = None,
                   options: Mapping[str, Any] | None = None, folder: str | None = None,
                   photos: Sequence[str | Mapping[str, Any]] = ()) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest for ``videos`` (names inside ``source``; default: the videos directly inside it,
    sorted) and the files to copy, by name in the upload folder; validated, errors name the flag or file.
    ``listing`` is a JSON file or the facts themselves; ``folder`` (default: the property id) names the
    upload folder; ``photos`` are manifest photo entries (a file inside ``source``, or {"file", "room",
    "caption"})."""
    folder = property_id if folder is None else folder
    if not folder or folder != folder.strip() or "/" in folder or "\\" in folder \
            or folder in (".", "..") or "\x00" in folder:
        raise ClientError(f"--property-id {folder!r}: must be a name without slashes or surrounding spaces")
    if len(folder.encode()) > 255:
        raise ClientError(f"--property-id: is {len(folder.encode())} bytes in UTF-8; it names the upload "
                          "folder, so at most 255")
    if not source.is_dir():
        raise ClientError(f"{source}: not a folder")
    if videos is None:
        videos = sorted(p.name for p in source.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos and not photos:
        raise ClientError(f"{source}: no videos ({' '.join(VIDEO_SUFFIXES)}) in this folder")
    files = {name: source / name for name in videos}
    files |= {name: source / name for name in (p if isinstance(p, str) else p.get("file", "") for p in photos)}
    for file in files.values():
        if not file.is_file():
            raise ClientError(f"{file}: no such file")
    body: dict[str, Any] = {"property_id": property_id, "videos": list(videos), "launch": launch}
    if photos:
        body["photos"] = [p if isinstance(p, str) else dict(p) for p in photos]
    if music is not None:
        if not music.is_file():
            raise ClientError(f"--music {music}: no such file")
        if music.suffix.lower() not in AUDIO_SUFFIXES:
            raise ClientError(f"--music {music}: must end with one of {', '.join(AUDIO_SUFFIXES)}")
        if music.name in body["videos"]:
            raise ClientError(f"--music {music}: has the same name as a video")
        body["music"] = music.name
        files[music.name] = music
    if isinstance(listing, Mapping):
        body["listing"] = dict(listing)
    elif listing is not None:
        try:
            body["listing"] = json.loads(listing.read_text())
        except OSError as exc:
            raise ClientError(f"--listing {listing}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ClientError(f"--listing {listing}: not valid JSON: {exc}") from exc
    chosen = dict(options or {})
    if target_duration_s is not None:
        chosen["target_duration_s"] = target_duration_s
    if chosen:
        body["options"] = chosen
    try:
        parse_manifest(json.dumps(body).encode(), file=f"{UPLOADS}/{folder}/{MANIFEST}")
    except ManifestError as exc:
        raise ClientError(str(exc)) from exc
    return body, files


def upload_property(store: Store, property_id: str, source: Path, *, music: Path | None = None,
                    listing: Path | Mapping[str, Any] | None = None, target_duration_s: float | None = None,
                    launch: str = "client", videos: Sequence[str] | None = None,
                    options: Mapping[str, Any] | None = None, folder: str | None = None,
                    photos: Sequence[str | Mapping[str, Any]] = ()) -> Upload:
    """Copy the videos, photos (and music) to ``uploads/<folder>/`` and write ``manifest.json`` last."""
    body, files = build_manifest(property_id, source, music, listing, target_duration_s, launch, videos=videos,
                                 options=options, folder=folder, photos=photos)
    name = property_id if folder is None else folder
    prefix = f"{UPLOADS}/{name}"
    written = []
    for inside, file in files.items():
        store.publish(file, f"{prefix}/{inside}")
        written.append(f"{prefix}/{inside}")
    raw = json.dumps(body, indent=2).encode()
    store.write_bytes(f"{prefix}/{MANIFEST}", raw)
    written.append(f"{prefix}/{MANIFEST}")
    return Upload(property_id=property_id, key=property_key(name), folder=prefix, files=tuple(written),
                  manifest_sha256=hashlib.sha256(raw).hexdigest())
