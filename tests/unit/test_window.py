"""The window read file by file: each event once, the first copy, and no ids kept."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recs.batch import window
from recs.batch.weighting import EVENT_COLUMNS, deduplicate
from recs.batch.window import COLUMNS, read_window
from recs.formats import event_files
from recs.stores.memory import MemoryObjectStore


def parquet(rows: list[tuple[str | None, str]]) -> bytes:
    """A file of (event_id, item) rows, the other columns filled in."""
    n = len(rows)
    table = pa.table({
        "event_id": pa.array([r[0] for r in rows], pa.string()),
        "user_id": pa.array([f"u{k % 3}" for k in range(n)], pa.string()),
        "session_id": pa.nulls(n, pa.string()),
        "item_id": pa.array([r[1] for r in rows], pa.string()),
        "event_type": pa.array(["view"] * n, pa.string()).dictionary_encode(),
        "ts": pa.array(range(n), pa.timestamp("ms", tz="UTC")),
        "category": pa.nulls(n, pa.string()),
    })
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def store_of(files: list[list[tuple[str | None, str]]]) -> tuple[MemoryObjectStore, list[str]]:
    store = MemoryObjectStore()
    keys = [f"events/dt=2026-11-20/part-{n:03d}.parquet" for n in range(len(files))]
    for key, rows in zip(keys, files, strict=True):
        store.put(key, parquet(rows))
    return store, keys


def test_a_redelivered_event_counts_once_the_first_copy_kept() -> None:
    store, keys = store_of([[("e1", "rice"), ("e2", "milk")],
                            [("e2", "milk-again"), ("e3", "tea"), ("e1", "rice-again")]])
    window = read_window(store, keys)
    assert window.column_names == list(COLUMNS)
    assert window["item_id"].to_pylist() == ["rice", "milk", "tea"]


def test_no_files_give_an_empty_window_with_the_columns() -> None:
    window = read_window(MemoryObjectStore(), [])
    assert window.num_rows == 0 and window.column_names == list(COLUMNS)


ids = st.sampled_from(["a", "b", "c", "d", "ab", "ba", "e" * 20]) | st.none()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(ids, st.sampled_from("xyz")), max_size=8), min_size=1,
                max_size=5), st.integers(min_value=1, max_value=12))
def test_file_by_file_is_the_dedup_of_the_whole_window(files: list[Any], compact: int) -> None:
    """Whatever the files and however often their tables are compacted on the way."""
    store, keys = store_of(files)
    whole = deduplicate(event_files.decode([store.get(k) for k in keys], columns=EVENT_COLUMNS))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(window, "COMPACT_ROWS", compact)
        assert read_window(store, keys).equals(whole.drop_columns(["event_id"]))
