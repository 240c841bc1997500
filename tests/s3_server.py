"""moto's standalone S3 server on loopback: real HTTP requests, nothing patched into boto3."""

import contextlib
import functools
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from real_estate_dag.resources.s3_store import S3Store

REGION = "us-east-1"


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """Start the server on a free port with throwaway credentials; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@functools.cache
def client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


def new_store(endpoint: str, cache_dir: Path, **fields: object) -> S3Store:
    """An S3Store on a new, empty bucket."""
    bucket = f"redag-{uuid.uuid4().hex[:12]}"
    client(endpoint).create_bucket(Bucket=bucket)
    return S3Store(bucket=bucket, endpoint_url=endpoint, region_name=REGION, cache_dir=str(cache_dir),
                   **fields)
