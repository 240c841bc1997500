"""Shared pieces of the asset layer: the partitions, the group, failures for bad input."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dagster import Any as DagsterAny
from dagster import AssetOut, Backoff, DynamicPartitionsDefinition, Failure, Jitter, MetadataValue, RetryPolicy
from PIL import Image

from real_estate_dag.gpu_resources.backends import Backend
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.visuals import data_uri
from real_estate_dag.resources.store import Store

property_partitions = DynamicPartitionsDefinition(name="property")
GROUP = "showcase"
OWNERS = ["team:media-pipeline"]
# For transient storage and worker faults; bad input raises Failure(allow_retries=False) instead.
STORAGE_RETRY = RetryPolicy(max_retries=3, delay=2.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def analysis_out(key: str, *, kinds: set[str], code_version: str, description: str) -> AssetOut:
    """One asset of the analysis pass: optional, since the pass can be subset, with a JSON value."""
    return AssetOut(key=key, dagster_type=DagsterAny, is_required=False, group_name=GROUP, owners=OWNERS,
                    kinds=kinds, code_version=code_version, description=description)


def decoded_video(store: Store, entry: dict[str, Any]) -> DecodedVideo:
    """A ``video_frames`` entry's decoded streams in a local folder (the store's cache on S3)."""
    decoded = DecodedVideo.from_dict(entry["decoded"])
    return replace(decoded, directory=str(store.local_dir(decoded.directory)))


def bad_input(message: str, **metadata: Any) -> Failure:
    """A failure caused by the upload itself: reported clearly and never retried."""
    return Failure(
        description=message,
        metadata={"error": MetadataValue.text(message), **metadata},
        allow_retries=False,
    )


def provenance(backend: Backend, device: str) -> dict[str, Any]:
    """Which model produced an asset's values: shown in the UI next to what it computed."""
    return {"backend": backend.name, "weights_sha256": backend.digest, "device": device}


def image_markdown(image: Image.Image, alt: str, fmt: str = "JPEG", caption: str = "") -> MetadataValue:
    """An image the UI shows inside the metadata, embedded as a data URI (at most 150 KB)."""
    return MetadataValue.md(f"![{alt}]({data_uri(image, fmt)})" + (f"\n\n{caption}" if caption else ""))


def markdown_table(rows: list[Mapping[str, Any]], limit: int = 50) -> MetadataValue:
    if not rows:
        return MetadataValue.md("_(none)_")
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more rows not shown_")
    return MetadataValue.md("\n".join(lines))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")


def publish_table(store: Store, partition_key: str, name: str, rows: list[dict[str, Any]]) -> str:
    """Stage ``rows`` as ``work/<key>/tables/<name>.parquet`` (its URL); showcase_video publishes the
    staged tables with the videos as one result set (resources/results.py)."""
    from real_estate_dag.resources.results import stage_table

    return stage_table(store, partition_key, name, rows)
