"""Where uploads, intermediates and results live: a folder on disk (LocalStore) or an S3 bucket
(S3Store, in s3_store.py). Both implement ``Store``; which one runs is configuration (REDAG_STORE).

Layout under the root:
  uploads/<upload folder>/...   what users upload; the pipeline only ever reads here
  work/<partition key>/...      intermediates (frames, embeddings, asset values)
  results/<partition key>/...   published result sets: runs/<run id>/ and current.json naming the
                                current one (resources/results.py)
"""

import os
import shutil
import tempfile
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

from real_estate_dag.ops.keys import check_partition_key

UPLOADS, WORK, RESULTS = "uploads", "work", "results"


class UnsafeKeyError(ValueError):
    pass


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    version: str  # changes whenever the content may have changed (mtime+size here, ETag on S3)
    modified: float | None = None  # last change, seconds since the epoch; None where the store cannot tell


class Store(ConfigurableResource):
    """Keys are ``/``-separated paths relative to the store's root; assets and sensors name this type."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_objects(self, prefix: str) -> list[StoredObject]:
        """Every object under the folder ``prefix``, at any depth, sorted by key."""

    @abstractmethod
    def list_folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under ``prefix``."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def local_path(self, key: str) -> Path:
        """A local file with the object's content, for readers that need a path (decoders)."""

    @abstractmethod
    def local_dir(self, prefix: str) -> Path:
        """A local folder holding every object under ``prefix`` (saved there with ``save_dir``)."""

    @abstractmethod
    def work_dir(self, partition_key: str, *parts: str) -> Path:
        """A local scratch folder for one property's intermediates: the local image of
        ``work/<partition_key>/<parts>``, which ``save_dir`` copies into the store."""

    @abstractmethod
    def save_dir(self, prefix: str) -> None:
        """Store the files of the local folder of ``prefix`` (a ``work_dir``) under ``prefix``."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> str: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; a no-op when it is already gone."""

    @abstractmethod
    def publish(self, local_file: Path, key: str) -> str:
        """Store ``local_file`` at ``key`` so readers see either the old or the new object, never half;
        returns its URL. ``local_file`` may be moved away."""

    @abstractmethod
    def url(self, key: str) -> str: ...


def check_relative_key(key: str) -> str:
    """``key`` if it is a non-empty relative key without backslashes or NUL bytes."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise UnsafeKeyError(f"unsafe storage key {key!r}")
    return key


def _naming(exc: OSError, doing: str, target: Path) -> OSError:
    """``exc`` (a full disk, say) with the file it was about, which the OS error often lacks."""
    return OSError(exc.errno, f"{exc.strerror or exc} ({doing})", str(target))


def work_prefix(partition_key: str, *parts: str) -> str:
    return "/".join([WORK, check_partition_key(partition_key), *parts])


class LocalStore(Store):
    """A store in a local folder (the embedded default)."""

    root: str

    def _root(self) -> Path:
        return Path(self.root).resolve()

    def path(self, key: str) -> Path:
        """The file for ``key``; refuses keys that would leave the root (``..``, absolute, links)."""
        check_relative_key(key)
        root = self._root()
        target = (root / key).resolve()
        if target != root and root not in target.parents:
            raise UnsafeKeyError(f"storage key {key!r} leaves the store")
        return target

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list_objects(self, prefix: str) -> list[StoredObject]:
        base = self.path(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        root = self._root()
        objects = []
        for file in sorted(base.rglob("*")):
            if file.is_file() and not file.is_symlink():
                stat = file.stat()
                key = file.relative_to(root).as_posix()
                objects.append(StoredObject(key, stat.st_size, f"{stat.st_mtime_ns}-{stat.st_size}",
                                            stat.st_mtime))
        return objects

    def list_folders(self, prefix: str) -> list[str]:
        base = self.path(prefix.rstrip("/"))
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def local_path(self, key: str) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"{key} does not exist in the store")
        return path

    def local_dir(self, prefix: str) -> Path:
        return self.path(prefix)

    def work_dir(self, partition_key: str, *parts: str) -> Path:
        path = self.path(work_prefix(partition_key, *parts))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_dir(self, prefix: str) -> None:
        """Nothing to do: the work folder is already in the store."""

    def write_bytes(self, key: str, data: bytes) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".tmp-", delete=False) as tmp:
            try:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException as exc:
                Path(tmp.name).unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise _naming(exc, f"writing {key}", target) from exc
                raise
        os.replace(tmp.name, target)
        return self.url(key)

    def delete(self, key: str) -> None:
        """Remove one object (a no-op when it is already gone) and any folders it leaves empty."""
        target = self.path(key)
        target.unlink(missing_ok=True)
        root = self._root()
        for folder in target.parents:
            if folder == root or folder.parent == root:
                break
            try:
                folder.rmdir()
            except OSError:
                break

    def publish(self, local_file: Path, key: str) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-{os.getpid()}-{target.name}"
        try:
            if local_file.resolve().parent == target.parent:
                os.replace(local_file, tmp)
            else:
                shutil.copyfile(local_file, tmp)
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise _naming(exc, f"publishing {key}", target) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return self.url(key)

    def url(self, key: str) -> str:
        return self.path(key).as_uri()
