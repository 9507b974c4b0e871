"""Parts of Parquet objects through the object store: the rows a footer names, fetched from
the file's end only (sizing a window), and a few columns fetched without the rest of the file
(the export's start reads the row files' keys), on every object store the batch runs on."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recs.batch import parquet_parts
from recs.stores.directory import DirectoryObjectStore
from recs.stores.memory import MemoryObjectStore
from recs.stores.ports import ObjectStore

KEY = "events/dt=2026-11-23/part-a.parquet"


class CountingStore(MemoryObjectStore):
    """Remembers how many bytes each read fetched."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[int] = []

    def get(self, key: str) -> bytes:
        body = super().get(key)
        self.fetched.append(len(body))
        return body

    def tail(self, key: str, size: int) -> tuple[bytes, int]:
        whole = self.objects[key]
        body = whole[max(len(whole) - size, 0):]
        self.fetched.append(len(body))
        return body, len(whole)

    def span(self, key: str, start: int, size: int) -> bytes:
        body = self.objects[key][start:start + size]
        self.fetched.append(len(body))
        return body


def parquet(rows: int, columns: int = 1) -> bytes:
    sink = io.BytesIO()
    table = pa.table({f"column_{c}": [f"value {i}" for i in range(rows)] for c in range(columns)})
    pq.write_table(table, sink)
    return sink.getvalue()


def rows_of(store: ObjectStore, key: str) -> int:
    tail, size = store.tail(key, parquet_parts.FOOTER_GUESS_BYTES)
    return parquet_parts.parquet_rows(store, key, tail, size)


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_the_footer_names_the_rows_without_the_file_being_fetched(kind: str,
                                                                  tmp_path: Path) -> None:
    store: ObjectStore = (MemoryObjectStore() if kind == "memory"
                          else DirectoryObjectStore(tmp_path))
    blob = parquet(200_000)
    store.put(KEY, blob)
    assert rows_of(store, KEY) == 200_000
    assert len(blob) > 10 * parquet_parts.FOOTER_GUESS_BYTES  # so fetching it whole would show


def test_only_the_end_of_a_large_file_is_fetched() -> None:
    store = CountingStore()
    store.put(KEY, parquet(200_000))
    assert rows_of(store, KEY) == 200_000
    assert store.fetched == [parquet_parts.FOOTER_GUESS_BYTES]


def test_a_footer_longer_than_the_first_fetch_takes_a_second_exact_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_parts, "FOOTER_GUESS_BYTES", 64)
    store = CountingStore()
    blob = parquet(10, columns=40)  # forty columns' metadata: a footer of some kilobytes
    store.put(KEY, blob)
    footer = int.from_bytes(blob[-8:-4], "little") + 8
    assert footer > 64
    assert rows_of(store, KEY) == 10
    assert store.fetched == [64, footer]


@pytest.mark.parametrize("blob", [b"", b"PAR1", b"not parquet at all, just text",
                                  b"PAR1" + b"\xff\xff\xff\x7f" + b"PAR1"])
def test_a_file_without_a_readable_footer_is_refused(blob: bytes) -> None:
    store = MemoryObjectStore()
    store.put(KEY, blob)
    with pytest.raises(ValueError):
        rows_of(store, KEY)


def row_file(rows: int, row_group_size: int, dictionary: bool = True) -> bytes:
    """A row file's shape: short keys, long JSON entries, a list column."""
    sink = io.BytesIO()
    table = pa.table({
        "key": [f"u#{i:07d}" for i in range(rows)],
        "version": ["v1"] * rows,
        "entries": [json.dumps([[f"item-{i * j % 7919}", round(i * j % 997 / 997, 4), "viewed"]
                                for j in range(20)]) for i in range(rows)],
        "history": [[f"item-{j}" for j in range(i % 4)] for i in range(rows)],
    })
    pq.write_table(table, sink, row_group_size=row_group_size, use_dictionary=dictionary,
                   compression="zstd")
    return sink.getvalue()


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_a_column_is_read_without_fetching_the_others(kind: str, tmp_path: Path) -> None:
    """The keys of a row file of three row groups: a request for the footer, one per
    group's key chunk, and a small share of the file's bytes."""
    store: ObjectStore = CountingStore() if kind == "memory" else DirectoryObjectStore(tmp_path)
    blob = row_file(30_000, row_group_size=10_000)
    store.put(KEY, blob)
    got = parquet_parts.read_columns(store, KEY, ["key"])
    assert got.equals(pq.read_table(io.BytesIO(blob), columns=["key"]))
    assert got.column_names == ["key"] and got.num_rows == 30_000
    if isinstance(store, CountingStore):
        assert len(store.fetched) == 1 + 3
        assert sum(store.fetched[1:]) < len(blob) / 10


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 3_000), group=st.integers(1, 1_200), dictionary=st.booleans(),
       columns=st.sets(st.sampled_from(["key", "version", "entries", "history"]), min_size=1))
def test_any_columns_of_any_row_groups_are_the_files_own(
        rows: int, group: int, dictionary: bool, columns: set[str]) -> None:
    store = MemoryObjectStore()
    blob = row_file(rows, group, dictionary)
    store.put(KEY, blob)
    wanted = sorted(columns)
    got = parquet_parts.read_columns(store, KEY, wanted)
    assert got.equals(pq.read_table(io.BytesIO(blob), columns=wanted))


def test_a_missing_column_is_named() -> None:
    store = MemoryObjectStore()
    store.put(KEY, row_file(10, 10))
    with pytest.raises(ValueError, match="'score'"):
        parquet_parts.read_columns(store, KEY, ["key", "score"])
