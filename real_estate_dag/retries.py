"""Retries for transient faults only: a step that hit a storage or network fault that may pass asks
Dagster to run it again, with backoff; every other error fails the step once, with its own message."""

import errno
import random
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions
import requests
import urllib3.exceptions
from dagster import (
    AssetExecutionContext,
    Failure,
    InputContext,
    MetadataValue,
    OpExecutionContext,
    OutputContext,
    RetryRequested,
)

MAX_RETRIES = 3
RETRY_DELAY_S = 2.0  # before the first retry; doubled for each one after, with +-50% jitter
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeoutException",
                    "ServiceUnavailable", "InternalError", "RequestLimitExceeded", "TooManyRequestsException"}
_TRANSIENT_TYPES = (
    botocore.exceptions.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ...
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    requests.ConnectionError,
    requests.Timeout,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,  # also decode's wall-clock budget: a stalled or overloaded worker
)
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # EFBIG: past the file size limit (RLIMIT_FSIZE)
StepContext = AssetExecutionContext | OpExecutionContext | InputContext | OutputContext


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    """A storage or network fault that may pass: a dropped or refused connection, a timeout, a
    throttled or 5xx answer from the store, also when wrapped (boto3's S3UploadFailedError)."""
    for cause in _causes(exc):
        if isinstance(cause, botocore.exceptions.ClientError):
            status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or status == 429 or cause.response.get("Error", {}).get("Code") in _TRANSIENT_CODES:
                return True
        elif isinstance(cause, _TRANSIENT_TYPES):
            return True
    return False


def disk_full(exc: BaseException) -> OSError | None:
    """The out-of-space (over-quota, over-size-limit) error behind ``exc``, if that is what it is."""
    return next((c for c in _causes(exc) if isinstance(c, OSError) and c.errno in _DISK_FULL), None)


def retry_delay(retry_number: int) -> float:
    """Seconds to wait before retry ``retry_number + 1``: exponential backoff with jitter."""
    return RETRY_DELAY_S * 2**retry_number * random.uniform(0.5, 1.5)


def _retry_number(context: StepContext) -> int:
    if isinstance(context, InputContext | OutputContext):
        return context.step_context.previous_attempt_count
    return context.retry_number


@contextmanager
def transient_retries(context: StepContext) -> Iterator[None]:
    """Wrap a step's body (an asset's or op's, or an IO manager's load/handle): a transient storage or
    network fault asks Dagster to run the step again, up to ``MAX_RETRIES`` times with backoff; a full
    disk fails once, naming the file; a ``Failure`` and every other error (bad input, a render or
    model error, a bug) fail once with their own message."""
    try:
        yield
    except (Failure, RetryRequested):
        raise
    except Exception as exc:
        if (full := disk_full(exc)) is not None:
            reason = full.strerror or errno.errorcode[full.errno]
            what = "is over the file size limit" if full.errno == errno.EFBIG else "the disk is full"
            message = f"{full.filename or 'a file being written'}: {what} ({reason}); free space and rerun"
            raise Failure(description=message, metadata={"error": MetadataValue.text(message)},
                          allow_retries=False) from exc
        if not is_transient(exc):
            raise
        context.log.warning(f"transient fault; the step will be retried: {type(exc).__name__}: {exc}")
        raise RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=retry_delay(_retry_number(context))) from exc
