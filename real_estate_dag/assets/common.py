"""Shared pieces of the asset layer: the partitions, the group, failures for bad input, metadata."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from dagster import Any as DagsterAny
from dagster import (
    AssetKey,
    AssetOut,
    DynamicPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableConstraints,
    TableRecord,
    TableSchema,
)
from PIL import Image

from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.reports import Picture, Report
from real_estate_dag.ops.visuals import data_uri
from real_estate_dag.resources.store import Store

property_partitions = DynamicPartitionsDefinition(name="property")
GROUP = "showcase"
OWNERS = ["team:media-pipeline"]
# Retries every failure; kept only until every asset wraps its body in retries.transient_retries.


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


def image_markdown(image: Image.Image, alt: str, fmt: str = "JPEG", caption: str = "") -> MetadataValue:
    """An image the UI shows inside the metadata, embedded as a data URI (at most 150 KB)."""
    return MetadataValue.md(f"![{alt}]({data_uri(image, fmt)})" + (f"\n\n{caption}" if caption else ""))


TABLE_ROWS = 50  # rows of a table shown in the UI; the published parquet file holds them all
CELL_IMAGE_BYTES = 12_000
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!])")


def table(rows: Sequence[Mapping[str, Any]], limit: int = TABLE_ROWS, columns: Sequence[str] = ()) -> MetadataValue:
    """Rows as a table the UI shows and clients read with its schema; markdown where a cell holds an
    image. ``columns`` name the columns when there may be no rows."""
    if any(isinstance(v, Image.Image) for row in rows[:limit] for v in row.values()):
        return markdown_table(rows, limit)
    names = list(rows[0]) if rows else list(columns)
    records = [TableRecord({c: _plain(row[c]) for c in names}) for row in rows[:limit]]
    schema = [TableColumn(c, _column_type([r.data[c] for r in records])) for c in names]
    shown = TableConstraints(other=[f"the first {limit} of {len(rows)} rows"]) if len(rows) > limit else None
    return MetadataValue.table(records, TableSchema(schema, shown))


def _column_type(values: list[Any]) -> str:
    types = {type(v) for v in values if v is not None}
    if types == {bool}:
        return "bool"
    if types == {int}:
        return "int"
    if types and types <= {int, float}:
        return "float"
    return "string"


def _plain(value: Any) -> str | int | float | bool | None:
    if isinstance(value, np.generic):
        value = value.item()
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], limit: int = TABLE_ROWS) -> MetadataValue:
    """Rows as a markdown table: an image cell shows inline, text is escaped so it shows as written."""
    if not rows:
        return MetadataValue.md("_(none)_")
    columns = list(rows[0])
    lines = ["| " + " | ".join(_escape(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(_cell(c, row[c]) for c in columns) + " |")
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more rows not shown_")
    return MetadataValue.md("\n".join(lines))


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def _cell(column: str, value: Any) -> str:
    if isinstance(value, Image.Image):
        return f"![{_escape(column)}]({data_uri(value, max_bytes=CELL_IMAGE_BYTES)})"
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return _escape(str(value))


def metadata_value(value: Any) -> Any:
    """A report's metadata entry for the UI: a picture, a table (a list of rows) or the value itself."""
    if isinstance(value, Picture):
        return image_markdown(value.image, value.alt, value.fmt, value.caption)
    if isinstance(value, list):
        return table(value)
    return value


def report_result(store: Store, partition_key: str, asset_key: str, report: Report, table_name: str = "",
                  extra: Mapping[str, Any] | None = None) -> MaterializeResult:
    """The materialization of ``report``; its table is published as results/<key>/<table_name>.parquet."""
    metadata = {k: metadata_value(v) for k, v in report.metadata.items()}
    if report.table is not None:
        url = publish_table(store, partition_key, table_name, report.table)
        metadata["table_url"] = MetadataValue.url(url)
    return MaterializeResult(asset_key=AssetKey(asset_key), value=report.value, metadata={**metadata, **(extra or {})})


def publish_table(store: Store, partition_key: str, name: str, rows: list[dict[str, Any]]) -> str:
    """Stage ``rows`` as ``work/<key>/tables/<name>.parquet`` (its URL); showcase_video publishes the
    staged tables with the videos as one result set (resources/results.py)."""
    from real_estate_dag.resources.results import stage_table

    return stage_table(store, partition_key, name, rows)
