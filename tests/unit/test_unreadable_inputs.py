"""The nightly batch degrades, never stops: inputs it cannot read are skipped and reported.

An event file that is empty, truncated, corrupt, not Parquet, of another schema, or with
nulls where the lander writes none; a catalog line that is not UTF-8, not JSON, not an item,
or holds a lone surrogate. Each is left out with its reason, the rest trains; past
``RECS_MAX_UNREADABLE_SHARE`` of the bytes the run fails instead, naming what it could not
read.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recs.batch.config import BatchConfig
from recs.batch.steps.weight import weight_step
from recs.batch.window import FileReport, read_file, read_window
from recs.contracts import layout
from recs.contracts.state import MAX_REPORTED
from recs.exceptions import ConfigError, UnreadableInput
from recs.formats import catalog_deltas, event_files
from recs.stores.memory import MemoryObjectStore

NOON = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp() * 1000)


def events(tag: str, rows: list[tuple[str, str]]) -> bytes:
    """A lander file of (user, item) purchases."""
    batch: list[Any] = [{"event_id": f"{tag}-{n}", "user_id": user, "item_id": item,
                         "event_type": "purchase", "ts": NOON + n * 1000}
                        for n, (user, item) in enumerate(rows)]
    return event_files.encode(batch)


GOOD = events("good", [("A", "rice"), ("A", "milk"), ("A", "lamb"), ("C", "rice"),
                       ("C", "milk")] * 20)


def parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def lander_table(n: int = 3) -> dict[str, pa.Array]:
    return {"event_id": pa.array([f"x{k}" for k in range(n)]),
            "user_id": pa.array(["A"] * n), "item_id": pa.array(["tea"] * n),
            "event_type": pa.array(["view"] * n),
            "ts": pa.array([NOON] * n, pa.timestamp("ms", tz="UTC"))}


BROKEN: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty file"),
    "truncated": (GOOD[: len(GOOD) // 2], "not a readable Parquet file"),
    "not parquet": (b"PAR1" + b"\x00" * 64 + b"PAR1", "not a readable Parquet file"),
    # The footer survives, the first column's compressed page does not.
    "corrupt page": (GOOD[:44] + bytes(16) + GOOD[60:], "corrupt: ZSTD decompression failed"),
    "another schema": (parquet(pa.table({"a": [1, 2], "b": ["x", "y"]})),
                       "foreign schema: no column event_id, item_id, event_type, ts"),
    "ts as text": (parquet(pa.table({**lander_table(), "ts": pa.array(["noon"] * 3)})),
                   "foreign schema: column ts is string"),
    "no item": (parquet(pa.table({**lander_table(), "item_id": pa.array([None, "t", "t"],
                                                                        pa.string())})),
                "column item_id holds 1 nulls"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_file_that_cannot_be_read_is_skipped_and_says_why(name: str) -> None:
    blob, reason = BROKEN[name]
    table, problem = read_file(blob)
    assert table is None
    assert problem.startswith(reason) and len(problem) <= 200, problem
    assert problem  # every skip has a reason


def test_the_good_files_around_bad_ones_are_all_read() -> None:
    store = MemoryObjectStore()
    keys = []
    for n, name in enumerate(["good", *sorted(BROKEN), "good"]):
        key = layout.event_file("2026-11-20", f"{n:02d}{name.replace(' ', '-')}")
        store.put(key, GOOD if name == "good" else BROKEN[name][0])
        keys.append(key)
    keys.append(layout.event_file("2026-11-20", "listed-then-deleted"))
    report = FileReport()
    window = read_window(store, keys, report)
    assert window.num_rows == 100  # the second good file holds the same event ids
    assert [s["key"] for s in report.skipped] == keys[1:-2] + keys[-1:]
    assert report.skipped[-1]["reason"] == "listed but no longer stored"
    assert report.bytes == sum(len(store.get(k)) for k in keys[:-1])
    assert report.skipped_bytes == sum(len(BROKEN[name][0]) for name in BROKEN)


def test_a_file_of_compatible_types_is_read_as_the_landers() -> None:
    """Large strings, plain (not dictionary) event types, seconds, no session or category
    column: read and conformed, not refused."""
    table = pa.table({**lander_table(), "user_id": pa.array(["A"] * 3, pa.large_string()),
                      "ts": pa.array([NOON // 1000] * 3, pa.timestamp("s"))})
    read, problem = read_file(parquet(table))
    assert problem == "" and read is not None
    assert read.column_names == ["event_id", "user_id", "session_id", "item_id", "event_type",
                                 "ts", "category"]
    assert read["ts"].type == pa.timestamp("ms", tz="UTC")
    assert read["ts"].to_pylist()[0].timestamp() * 1000 == NOON
    assert read["session_id"].null_count == 3


# -- catalog deltas ---------------------------------------------------------------------------

def line(**item: Any) -> bytes:
    return json.dumps({"updated_at": 1, **item}).encode()


def test_bad_catalog_lines_are_skipped_by_number_and_the_rest_folds() -> None:
    delta = b"\n".join([
        line(item_id="rice", category="food", title="Rice"),
        line(item_id="lamb", category="\ud800"),  # a lone surrogate, escaped by json.dumps
        b"{not json",
        b"\xff\xfe not utf-8",
        b"[1, 2]",
        line(category="food"),
        line(item_id="milk", available="yes"),
        line(item_id="tea", updated_at="yesterday"),
        line(item_id="tea", title=["a", "list"]),
        line(item_id="coffee", price=float("nan")),
        b"",
        line(item_id="milk", category="food/dairy", updated_at=2),
    ]) + b"\n"
    catalog, skipped = catalog_deltas.fold([("catalog/updates/1.jsonl", delta)])
    assert sorted(catalog) == ["milk", "rice"]
    assert catalog["milk"]["category"] == "food/dairy"
    assert [(s["line"], s["reason"]) for s in skipped] == [
        (2, "category: not encodable as UTF-8 (a lone surrogate)"),
        (3, "not JSON"),
        (4, "not UTF-8"),
        (5, "not a JSON object"),
        (6, "item_id: missing or not a string"),
        (7, "available: not a boolean"),
        (8, "updated_at: not a finite number"),
        (9, "title: not a string"),
        (10, "price: not a finite number"),
    ]
    assert all(s["key"] == "catalog/updates/1.jsonl" and s["bytes"] > 1 for s in skipped)
    assert catalog_deltas.decode_deltas([delta]) == catalog


# -- the weight step: report, counts, threshold ---------------------------------------------

def shop(*broken: str, bad_catalog_lines: int = 0) -> MemoryObjectStore:
    store = MemoryObjectStore()
    store.put(layout.event_file("2026-11-20", "good"), GOOD)
    for name in broken:
        store.put(layout.event_file("2026-11-20", name.replace(" ", "-")), BROKEN[name][0])
    lines = [line(item_id=item, category="food") for item in ("rice", "milk", "lamb")]
    lines += [line(item_id=f"bad{n}", category="\udfff") for n in range(bad_catalog_lines)]
    store.put(layout.catalog_delta(1, "abc"), b"\n".join(lines) + b"\n")
    return store


def test_the_run_trains_on_what_it_could_read_and_reports_the_rest() -> None:
    store = shop("empty", "truncated", bad_catalog_lines=1)
    state = weight_step({"as_of": "2026-11-21"}, store, BatchConfig(max_unreadable_share=0.5))
    counts, skipped = state["counts"], state["skipped"]
    assert counts["events"] == 100 and counts["users"] == 2
    assert counts["skipped_event_files"] == 2
    assert counts["skipped_event_bytes"] == len(BROKEN["truncated"][0])
    assert counts["event_bytes"] == len(GOOD) + len(BROKEN["truncated"][0])
    assert [s["reason"].split(":")[0] for s in skipped["events"]] == [
        "empty file", "not a readable Parquet file"]
    assert counts["skipped_catalog_lines"] == 1 and counts["catalog_items"] == 3
    assert skipped["catalog"] == [{"key": layout.catalog_delta(1, "abc"), "line": 4,
                                   "reason": "category: not encodable as UTF-8 (a lone "
                                             "surrogate)", "bytes": len(line(
                                                 item_id="bad0", category="\udfff")) + 1}]
    # The state travels through Step Functions as JSON.
    assert json.loads(json.dumps(state)) == state


def test_past_the_threshold_the_run_fails_and_names_what_it_could_not_read() -> None:
    store = shop("truncated")  # half a good file: a third of the bytes
    with pytest.raises(UnreadableInput) as caught:
        weight_step({"as_of": "2026-11-21"}, store, BatchConfig(max_unreadable_share=0.1))
    error = caught.value
    assert error.kind == "events" and error.skipped == 1
    assert 0.3 < error.share < 0.4
    assert "truncated" in str(error) and "RECS_MAX_UNREADABLE_SHARE" in str(error)
    # A share of 1 never fails; an empty file holds no bytes, so even 0 tolerates it.
    assert weight_step({"as_of": "2026-11-21"}, store,
                       BatchConfig(max_unreadable_share=1.0))["counts"]["events"] == 100
    assert weight_step({"as_of": "2026-11-21"}, shop("empty"),
                       BatchConfig(max_unreadable_share=0.0))["counts"]["events"] == 100


def test_a_catalog_mostly_unusable_fails_the_run_too() -> None:
    with pytest.raises(UnreadableInput) as caught:
        weight_step({"as_of": "2026-11-21"}, shop(bad_catalog_lines=3),
                    BatchConfig(max_unreadable_share=0.5))
    assert caught.value.kind == "catalog" and caught.value.skipped == 3


def test_the_report_in_the_state_is_bounded_the_counts_are_not() -> None:
    store = shop()
    for n in range(MAX_REPORTED + 5):
        store.put(layout.event_file("2026-11-20", f"empty{n:03d}"), b"")
    state = weight_step({"as_of": "2026-11-21"}, store, BatchConfig())
    assert len(state["skipped"]["events"]) == MAX_REPORTED
    assert state["counts"]["skipped_event_files"] == MAX_REPORTED + 5


@pytest.mark.parametrize("raw", ["-0.1", "1.5", "nan", "lots"])
def test_the_threshold_setting_is_validated(raw: str) -> None:
    with pytest.raises(ConfigError, match="RECS_MAX_UNREADABLE_SHARE"):
        BatchConfig.from_env({"RECS_MAX_UNREADABLE_SHARE": raw})
    assert BatchConfig.from_env({"RECS_MAX_UNREADABLE_SHARE": "0"}).max_unreadable_share == 0
    assert BatchConfig().max_unreadable_share == 0.1
