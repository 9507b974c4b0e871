"""The object-store port on a directory, as the Spark job and the benchmarks use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from recs.exceptions import NotFound
from recs.stores.directory import DirectoryObjectStore


def test_keys_are_paths_and_list_as_s3_does(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    store.put("models/v1/rows/part-00001.parquet", b"b")
    store.put("models/v1/rows/part-00000.parquet", b"a")
    store.put("models/v2/model.npz", b"m")
    assert store.get("models/v1/rows/part-00000.parquet") == b"a"
    assert (tmp_path / "models/v2/model.npz").read_bytes() == b"m"
    assert store.list("models/v1/") == ["models/v1/rows/part-00000.parquet",
                                        "models/v1/rows/part-00001.parquet"]
    assert store.list("models/v") == [*store.list("models/v1/"), "models/v2/model.npz"]
    assert store.list("events/") == []


def test_a_put_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    store.put("a/b", b"first, and longer")
    store.put("a/b", b"second")
    assert store.get("a/b") == b"second"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]


def test_a_missing_key_is_not_found(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    store.put("a/b", b"x")
    for key in ("nothing", "a", "a/b/c"):
        with pytest.raises(NotFound):
            store.get(key)
