"""The version's DynamoDB rows as Parquet: what an engine that trains off the Lambdas (the
Spark job) writes under ``layout.rows_prefix``, and what each child of the export's
Distributed Map writes to the table, one file each.

A row's entries travel as the JSON string the table stores (``RecRow``), so the export
child decodes nothing it does not need to, and a file's rows are exactly the rows the
single-node ``export_rows`` yields for the same lists.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from recs.contracts.rows import RecRow

SCHEMA = pa.schema([
    pa.field("key", pa.string(), nullable=False),
    pa.field("version", pa.string(), nullable=False),
    pa.field("entries", pa.string(), nullable=False),  # JSON list of keys.Entry lists
    pa.field("history", pa.list_(pa.string()), nullable=False),
])


def entries_json(items: Iterable[Iterable[object]]) -> str:
    """Entries as one compact JSON array (the store's own encoding of ``RecRow.items``)."""
    return json.dumps([list(item) for item in items], separators=(",", ":"))


def to_table(rows: Iterable[RecRow]) -> pa.Table:
    keys, versions, entries, histories = [], [], [], []
    for row in rows:
        keys.append(row.key)
        versions.append(row.version)
        entries.append(entries_json(row.items))
        histories.append(list(row.history))
    return pa.table([keys, versions, entries, histories], schema=SCHEMA)


def to_bytes(rows: Iterable[RecRow]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(to_table(rows), sink, compression="zstd")
    return sink.getvalue()


def read(data: bytes) -> Iterator[RecRow]:
    """The file's rows; a file of another layout raises ``ValueError`` naming the column."""
    table = pq.read_table(io.BytesIO(data))
    missing = [name for name in SCHEMA.names if name not in table.column_names]
    if missing:
        raise ValueError(f"row file lacks column {missing[0]!r}")
    for batch in table.select(SCHEMA.names).to_batches(max_chunksize=2_000):
        columns = batch.to_pydict()
        for key, version, entries, history in zip(
                columns["key"], columns["version"], columns["entries"], columns["history"],
                strict=True):
            yield RecRow(key, version, json.loads(entries), 0, history or ())
