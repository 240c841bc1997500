"""Two assets that fail the ways the pipeline's steps fail, for tests of what failure reports say."""

import errno
import json

from dagster import Failure, RetryRequested, asset

FULL_DISK = "/store/work/oak-st/render.tmp"
REFUSED = "uploads/oak-st/manifest.json: field '(file)': is not valid JSON"


@asset
def flaky_store() -> None:
    """A transient error retried with RetryRequested until its retries run out."""
    try:
        raise OSError(errno.ENOSPC, "No space left on device", FULL_DISK)
    except OSError as exc:
        raise RetryRequested(max_retries=1) from exc


@asset
def refused_upload() -> None:
    """Bad input: a Failure with a description, raised from the error that found it."""
    try:
        json.loads("{")
    except ValueError as exc:
        raise Failure(description=REFUSED, allow_retries=False) from exc


FAILING_ASSETS = [flaky_store, refused_upload]
EXPECTED_REASONS = {"flaky_store": f"OSError: [Errno 28] No space left on device: '{FULL_DISK}'",
                    "refused_upload": REFUSED}
