"""The Parquet form of events: one schema, written by the lander, read by the batch.

Files go to Hive-style ``events/dt=YYYY-MM-DD/`` partitions (``recs.contracts.layout``),
zstd-compressed, so Athena, Glue, Spark and DuckDB read the bucket as it is.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from recs.contracts import layout
from recs.contracts.events import Event

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


def partition_key(dt: str, events: Sequence[Event]) -> str:
    """A key derived from the event ids: landing the same events twice overwrites one file."""
    digest = hashlib.sha256("\n".join(sorted(e["event_id"] for e in events)).encode())
    return layout.event_file(dt, digest.hexdigest()[:20])


def encode(events: Sequence[Event]) -> bytes:
    """One zstd Parquet file holding ``events`` (normalised by ``recs.intake.validation``)."""
    columns: dict[str, list[object]] = {name: [] for name in SCHEMA.names}
    for event in events:
        fields: Mapping[str, object] = event
        for name in SCHEMA.names:
            columns[name].append(fields.get(name))
    table = pa.Table.from_pydict(columns, schema=SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", use_dictionary=True)
    return buffer.getvalue()


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
