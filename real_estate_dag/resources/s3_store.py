"""A store in an S3 bucket (or an S3-compatible service: MinIO, R2) with a local read cache.

Objects live under ``<bucket>/<prefix>/<key>``. Readers that need files (decoders, numpy) get them
from a cache folder that mirrors the keys; a cached file is reused while its ETag matches the
object's. Work folders are written in that mirror first and copied into the bucket by ``save_dir``,
so a step on another machine can read them. A PUT (or a completed multipart upload) replaces an
object atomically, so readers never see half a result.
"""

import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from dagster_aws.s3.sensor import get_objects
from pydantic import Field, PrivateAttr

from real_estate_dag.resources.store import Store, StoredObject, UnsafeKeyError, check_relative_key, work_prefix

MB = 1024 * 1024
_CLIENT_LOCK = threading.Lock()
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def check_key(key: str) -> str:
    """``key`` if it is a plain relative path; S3 keys are literal, so ``..`` would not mean "up"."""
    if any(part in ("", ".", "..") for part in check_relative_key(key).split("/")):
        raise UnsafeKeyError(f"storage key {key!r} has an empty, '.' or '..' segment")
    return key


class S3Store(Store):
    """Uploads, intermediates and results in an S3 bucket; credentials come from boto3's usual chain
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or pod roles)."""

    bucket: str
    prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. 'redag'.")
    region_name: str = Field(default="", description="AWS region; empty: boto3's default.")
    endpoint_url: str = Field(default="", description="For S3-compatible services (MinIO, R2).")
    addressing_style: str = Field(default="auto", description="'path' for MinIO-style endpoints.")
    cache_dir: str = Field(description="Local folder for cached objects and work folders.")
    url_expiry_s: int = Field(default=7 * 24 * 3600, description="Lifetime of presigned result URLs.")
    max_attempts: int = Field(default=10, description="Attempts per request, the first included (adaptive retries).")
    multipart_mb: int = Field(default=8, description="Files above this size go up in parts of this size.")

    _client: Any = PrivateAttr(default=None)

    def _s3(self) -> Any:
        with _CLIENT_LOCK:  # boto3 sessions are not thread-safe; the client they make is
            if self._client is None:
                config = Config(retries={"mode": "adaptive", "total_max_attempts": self.max_attempts},
                                s3={"addressing_style": self.addressing_style}, signature_version="s3v4")
                self._client = boto3.session.Session().client(
                    "s3", region_name=self.region_name or None, endpoint_url=self.endpoint_url or None, config=config
                )
            return self._client

    def _transfer(self) -> TransferConfig:
        size = self.multipart_mb * MB
        return TransferConfig(multipart_threshold=size, multipart_chunksize=size, max_concurrency=8)

    def _object(self, key: str) -> str:
        check_key(key)
        base = self.prefix.strip("/")
        return f"{base}/{key}" if base else key

    def _folder(self, prefix: str) -> str:
        return self._object(prefix.strip("/")) + "/"

    def _cache_root(self) -> Path:
        return Path(self.cache_dir).resolve() / self.bucket / self.prefix.strip("/")

    def _cached(self, key: str) -> Path:
        return self._cache_root() / "objects" / check_key(key)

    def _etag_file(self, key: str) -> Path:
        return self._cache_root() / "etags" / check_key(key)

    def _remember(self, key: str, etag: str) -> None:
        marker = self._etag_file(key)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(etag)

    def _etag(self, key: str) -> str | None:
        try:
            return self._s3().head_object(Bucket=self.bucket, Key=self._object(key))["ETag"].strip('"')
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NOT_FOUND:
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._etag(key) is not None

    def list_objects(self, prefix: str) -> list[StoredObject]:
        skip = len(self.prefix.strip("/") + "/") if self.prefix.strip("/") else 0
        objects = [StoredObject(o["Key"][skip:], o["Size"], o["ETag"].strip('"'), o["LastModified"].timestamp())
                   for o in get_objects(self.bucket, self._folder(prefix), client=self._s3())]
        return sorted(objects, key=lambda o: o.key)

    def list_folders(self, prefix: str) -> list[str]:
        folder = self._folder(prefix)
        pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder,
                                                                    Delimiter="/")
        return sorted(p["Prefix"][len(folder):].rstrip("/") for page in pages for p in page.get("CommonPrefixes", []))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._s3().get_object(Bucket=self.bucket, Key=self._object(key))["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NOT_FOUND:
                raise FileNotFoundError(f"{key} does not exist in the store") from exc
            raise

    def local_path(self, key: str) -> Path:
        etag = self._etag(key)
        if etag is None:
            raise FileNotFoundError(f"{key} does not exist in the store")
        return self._download(key, etag)

    def _download(self, key: str, etag: str) -> Path:
        """The cached copy of ``key``, fetched (streamed to disk) unless the cached ETag matches."""
        target, marker = self._cached(key), self._etag_file(key)
        if target.is_file() and marker.is_file() and marker.read_text() == etag:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            self._s3().download_file(self.bucket, self._object(key), tmp, Config=self._transfer())
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._remember(key, etag)
        return target

    def local_dir(self, prefix: str) -> Path:
        objects = self.list_objects(prefix)
        _parallel(lambda o: self._download(o.key, o.version), objects)
        return self._cached(prefix.strip("/"))

    def work_dir(self, partition_key: str, *parts: str) -> Path:
        path = self._cached(work_prefix(partition_key, *parts))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_dir(self, prefix: str) -> None:
        folder = self._cached(prefix.strip("/"))
        files = [f for f in sorted(folder.rglob("*")) if f.is_file() and not f.name.startswith(".tmp-")]
        keys = [f"{prefix.strip('/')}/{f.relative_to(folder).as_posix()}" for f in files]
        _parallel(lambda pair: self._upload(*pair), list(zip(files, keys, strict=True)))
        etags = {o.key: o.version for o in self.list_objects(prefix)}  # one listing: the cache stays valid
        for key in keys:
            self._remember(key, etags[key])

    def _upload(self, local_file: Path, key: str) -> None:
        self._s3().upload_file(str(local_file), self.bucket, self._object(key), Config=self._transfer())

    def write_bytes(self, key: str, data: bytes) -> str:
        self._s3().put_object(Bucket=self.bucket, Key=self._object(key), Body=data)
        return self.url(key)

    def delete(self, key: str) -> None:
        self._s3().delete_object(Bucket=self.bucket, Key=self._object(key))

    def publish(self, local_file: Path, key: str) -> str:
        self._upload(local_file, key)
        if local_file.resolve() == self._cached(key):
            self._remember(key, self._etag(key) or "")
        return self.url(key)

    def url(self, key: str) -> str:
        return self._s3().generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object(key)}, ExpiresIn=self.url_expiry_s
        )


def _parallel(fn: Callable[[Any], object], items: list) -> None:
    """Many small transfers at once; boto3 clients are thread-safe."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(fn, items))
