"""The training window's events, read file by file, each event once, without their ids.

The lander writes a file per batch of SQS messages, and SQS delivers at least once, so the
same event can sit in two files. Each file's ``event_id`` column is hashed as the file is read
and then dropped: ids are the biggest column (about 40 bytes an event for UUIDs, 815 MB of
the 1.7 GB table at 20 M events), and nothing after the dedup needs them. Only the ids whose
hash repeats are compared as strings, by reading the id column of just their files again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from recs.batch.reclaim import release_memory
from recs.batch.weighting import EVENT_COLUMNS, first_of_each_id, string_hashes
from recs.formats import event_files
from recs.stores.ports import ObjectStore

COLUMNS = tuple(c for c in EVENT_COLUMNS if c != "event_id")
# Rows per compacted chunk: a few hundred MB, far below Arrow's 2 GB per string array.
COMPACT_ROWS = 2_000_000


def read_window(objects: ObjectStore, keys: Sequence[str]) -> pa.Table:
    """The events of the Parquet files at ``keys``, in key then row order, keeping the first
    row of each ``event_id`` (and every row without one); the table has ``COLUMNS``."""
    if not keys:
        return event_files.decode([], columns=COLUMNS)
    chunks: list[pa.Table] = []  # compacted: about COMPACT_ROWS rows each
    tables: list[pa.Table] = []  # the files read since the last compaction
    hashes, valid, starts = [], [], [0]
    for key in keys:
        table = event_files.decode([objects.get(key)], columns=EVENT_COLUMNS)
        ids = table["event_id"]
        hashes.append(string_hashes(ids))
        valid.append(ids.is_valid().to_numpy(zero_copy_only=False))
        tables.append(table.drop_columns(["event_id"]))
        starts.append(starts[-1] + table.num_rows)
        if starts[-1] - sum(chunk.num_rows for chunk in chunks) >= COMPACT_ROWS:
            chunks.append(_compacted(tables))
    if tables:
        chunks.append(_compacted(tables))
    window = pa.concat_tables(chunks, promote_options="default")
    del chunks, tables

    def ids_at(rows: np.ndarray) -> pa.Array:
        """The ids of these rows (ascending), re-read from their files only."""
        file_of = np.searchsorted(starts, rows, side="right") - 1
        parts = []
        for index in np.unique(file_of):
            ids = event_files.decode([objects.get(keys[index])], columns=["event_id"])
            parts.append(ids["event_id"].take(pa.array(rows[file_of == index] - starts[index])))
        return pa.chunked_array(parts).combine_chunks()

    keep = first_of_each_id(np.concatenate(hashes), np.concatenate(valid), ids_at)
    del hashes, valid
    if keep is not None:
        window = window.filter(pa.array(keep))
    release_memory()
    return window


def _compacted(tables: list[pa.Table]) -> pa.Table:
    """Files' tables as one chunk per column; ``tables`` is emptied, so that their memory
    goes back before this returns. A file's few thousand rows per column, spread over the
    allocator's pages, held half again their size at 20 M events (1.6 GB for a 0.9 GB
    table); contiguous, they hold their size."""
    table = pa.concat_tables(tables, promote_options="default").combine_chunks()  # as decode
    tables.clear()
    release_memory()
    return table
