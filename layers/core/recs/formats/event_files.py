"""The Parquet form of events: one schema, written by the lander, read by the batch.

Files go to Hive-style ``events/dt=YYYY-MM-DD/`` partitions (``recs.contracts.layout``),
zstd-compressed, so Athena, Glue, Spark and DuckDB read the bucket as it is.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from recs.contracts import layout
from recs.contracts.events import Event
from recs.exceptions import ValidationError

SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("event_type", pa.dictionary(pa.int8(), pa.string())),
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("quantity", pa.int32()),
        pa.field("price", pa.float64()),
        pa.field("recommendation_id", pa.string()),
        pa.field("category", pa.string()),
        pa.field("context", pa.string()),
        pa.field("received_at", pa.timestamp("ms", tz="UTC")),
    ]
)


def partition_key(dt: str, event_ids: Iterable[str]) -> str:
    """A key derived from the event ids: landing the same events twice overwrites one file."""
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode("utf-8", "surrogatepass"))
    return layout.event_file(dt, digest.hexdigest()[:20])


_REQUIRED = tuple(f.name for f in SCHEMA if not f.nullable)


def table(events: Sequence[Event]) -> pa.Table:
    """``events`` (normalised by ``recs.intake.validation``) as a table of ``SCHEMA``.

    Raises ``ValidationError`` naming the first column a value does not fit (a lone surrogate
    in a string, text where a time belongs, a number past its type) or a required column
    left empty, so the lander can refuse the one queue message that holds it.
    """
    arrays = []
    for field in SCHEMA:
        try:
            values = [event.get(field.name) for event in events]
        except AttributeError as exc:
            raise ValidationError("events", "must all be JSON objects") from exc
        try:
            array = pa.array(values, type=field.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            raise ValidationError(field.name, f"cannot be stored as {field.type}: "
                                              f"{_short(exc)}") from exc
        if field.name in _REQUIRED and array.null_count:
            raise ValidationError(field.name, "is required in every event")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _short(exc: Exception) -> str:
    text = str(exc).encode("utf-8", "backslashreplace").decode()
    return text if len(text) <= 200 else text[:200] + "..."


def encode_table(events: pa.Table) -> bytes:
    """One zstd Parquet file holding a table of ``SCHEMA``."""
    buffer = io.BytesIO()
    pq.write_table(events, buffer, compression="zstd", use_dictionary=True)
    return buffer.getvalue()


def encode(events: Sequence[Event]) -> bytes:
    """One zstd Parquet file holding ``events`` (normalised by ``recs.intake.validation``)."""
    return encode_table(table(events))


def decode(blobs: Iterable[bytes], columns: Sequence[str] | None = None) -> pa.Table:
    """Concatenate Parquet files into one table, reading only ``columns``."""
    tables = [
        _plain(pq.read_table(io.BytesIO(blob), columns=list(columns) if columns else None))
        for blob in blobs
    ]
    if not tables:
        schema = pa.schema([SCHEMA.field(c) for c in columns]) if columns else SCHEMA
        return _plain(schema.empty_table())
    return pa.concat_tables(tables, promote_options="default")


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings: files written apart have different dictionaries."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, table[field.name].cast(pa.string()))
    return table
