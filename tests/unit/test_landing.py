"""The lander's Parquet: one zstd file per date partition, deduplicated, compact."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

from recs.formats import event_files
from recs.intake.landing import land, parse_message
from recs.intake.validation import validate_event
from recs.stores.memory import MemoryObjectStore
from recs_local.sample_data import generate
from tests.conftest import DAY0, event

NOW = int(DAY0.timestamp() * 1000) + 86_400_000


def normalised(raw: dict) -> dict:
    return {**validate_event(raw, NOW), "received_at": NOW}


def test_a_batch_lands_as_one_zstd_file_per_partition_without_duplicates() -> None:
    store = MemoryObjectStore()
    a, b = normalised(event("A", "rice")), normalised(event("B", "milk"))
    written = land([("2026-11-20", [a, b]), ("2026-11-20", [a])], store)
    key = written["2026-11-20"]
    assert key.startswith("events/dt=2026-11-20/") and key.endswith(".parquet")
    parquet = pq.ParquetFile(io.BytesIO(store.get(key)))
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    table = parquet.read()
    assert sorted(table["item_id"].to_pylist()) == ["milk", "rice"]
    assert table.schema.field("ts").type.tz == "UTC"


def test_landing_the_same_events_again_overwrites_the_same_file() -> None:
    store = MemoryObjectStore()
    events = [normalised(event("A", "rice")), normalised(event("B", "milk"))]
    land([("2026-11-20", events)], store)
    land([("2026-11-20", list(reversed(events)))], store)
    assert len(store.list("events/")) == 1


def test_a_message_round_trips_and_a_bad_one_names_itself() -> None:
    body = json.dumps({"dt": "2026-11-20", "events": [normalised(event("A", "rice"))]})
    dt, events = parse_message(body)
    assert dt == "2026-11-20" and events[0]["item_id"] == "rice"
    try:
        parse_message("[]")
    except Exception as exc:
        assert "message" in str(exc)
    else:
        raise AssertionError("a malformed message must raise")


def test_parquet_is_at_most_an_eighth_of_the_json_lines() -> None:
    events = [normalised(raw) for raw in generate(users=300, seed=3, end=DAY0)]
    json_lines = "\n".join(json.dumps(e) for e in events).encode()
    parquet = event_files.encode(events)
    assert len(parquet) * 8 <= len(json_lines), (len(parquet), len(json_lines))
