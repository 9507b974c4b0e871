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
from recs.batch.window import COLUMNS, FileReport, read_window
from recs.exceptions import NotFound
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


class _Vanishing(MemoryObjectStore):
    """A store whose listed file ``gone`` was deleted before it was read."""

    def __init__(self, gone: str) -> None:
        super().__init__()
        self.gone = gone

    def get(self, key: str) -> bytes:
        if key == self.gone:
            raise NotFound(key)
        return super().get(key)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(ids, st.sampled_from("xyz")), max_size=6), min_size=2,
                max_size=9), st.integers(min_value=1, max_value=3),
       st.integers(min_value=2, max_value=4), st.data())
def test_files_read_on_workers_join_in_key_order(files: list[Any], ahead: int, workers: int,
                                                 data: st.DataObject) -> None:
    """Files fetched and read ahead on several workers give the window, the dedup across
    files (the first copy in key order) and the report of a one-thread read, whatever the
    read-ahead, with unusable and vanished files among them."""
    store, keys = store_of(files)
    broken, vanished = data.draw(st.lists(st.sampled_from(keys), min_size=2, max_size=2,
                                          unique=True))
    store.put(broken, store.get(broken)[:-9])
    vanishing = _Vanishing(vanished)
    for key in keys:
        vanishing.put(key, store.get(key))
    alone, parallel = FileReport(), FileReport()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECS_THREADS", "1")
        one_thread = read_window(vanishing, keys, alone)
        patch.setenv("RECS_THREADS", str(workers))
        patch.setattr(window, "READ_AHEAD_PER_WORKER", ahead)
        patch.setattr(window, "COMPACT_ROWS", 3)
        assert read_window(vanishing, keys, parallel).equals(one_thread)
    assert (parallel.bytes, parallel.skipped) == (alone.bytes, alone.skipped)
    assert [s["key"] for s in alone.skipped] == sorted([broken, vanished])
    readable = [rows for key, rows in zip(keys, files, strict=True)
                if key not in (broken, vanished)]
    expected = deduplicate(event_files.decode([parquet(rows) for rows in readable],
                                              columns=EVENT_COLUMNS))
    assert one_thread.to_pydict() == expected.drop_columns(["event_id"]).to_pydict()
