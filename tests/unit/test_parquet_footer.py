"""Sizing a window from its files' footers: the rows a footer names, fetched from the file's
end only, on every object store the batch runs on."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recs.batch import window
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


def parquet(rows: int, columns: int = 1) -> bytes:
    sink = io.BytesIO()
    table = pa.table({f"column_{c}": [f"value {i}" for i in range(rows)] for c in range(columns)})
    pq.write_table(table, sink)
    return sink.getvalue()


def rows_of(store: ObjectStore, key: str) -> int:
    tail, size = store.tail(key, window.FOOTER_GUESS_BYTES)
    return window.parquet_rows(store, key, tail, size)


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_the_footer_names_the_rows_without_the_file_being_fetched(kind: str,
                                                                  tmp_path: Path) -> None:
    store: ObjectStore = (MemoryObjectStore() if kind == "memory"
                          else DirectoryObjectStore(tmp_path))
    blob = parquet(200_000)
    store.put(KEY, blob)
    assert rows_of(store, KEY) == 200_000
    assert len(blob) > 10 * window.FOOTER_GUESS_BYTES  # so fetching it whole would show


def test_only_the_end_of_a_large_file_is_fetched() -> None:
    store = CountingStore()
    store.put(KEY, parquet(200_000))
    assert rows_of(store, KEY) == 200_000
    assert store.fetched == [window.FOOTER_GUESS_BYTES]


def test_a_footer_longer_than_the_first_fetch_takes_a_second_exact_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window, "FOOTER_GUESS_BYTES", 64)
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
