"""The lander's Parquet: one zstd file per date partition, deduplicated, compact."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from recs.exceptions import StoreError
from recs.formats import event_files
from recs.intake.landing import land, land_messages, parse_message
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


# -- one poison message among good ones -------------------------------------------------------

def message(dt: str, events: list[dict]) -> str:
    return json.dumps({"dt": dt, "events": events})


GOOD_EVENTS = [normalised(event(f"U{n}", f"item{n}")) for n in range(6)]
POISON = {
    "not json": "not json",
    "not an events message": '{"dt": "2026-11-20"}',
    "no event_id": message("2026-11-20", [{k: v for k, v in GOOD_EVENTS[0].items()
                                           if k != "event_id"}]),
    "lone surrogate": message("2026-11-20", [{**normalised(event("P", "x")),
                                              "item_id": "sku\ud800"}]),
    "timestamp as text": message("2026-11-20", [{**normalised(event("P", "y")),
                                                 "ts": "yesterday"}]),
    "event_type as a list": message("2026-11-20", [{**normalised(event("P", "z")),
                                                    "event_type": ["view"]}]),
    "another day's event": message("2026-11-21", [normalised(event("P", "w"))]),
    "a dt that is no date": message("../../x", [normalised(event("P", "v"))]),
    "no events": message("2026-11-20", []),
}


@pytest.mark.parametrize("poison", POISON)
def test_one_poison_message_is_refused_filed_and_reported_while_the_others_land(
        poison: str) -> None:
    store = MemoryObjectStore()
    messages = [("m-0", message("2026-11-20", GOOD_EVENTS[:3])), ("m-poison", POISON[poison]),
                ("m-1", message("2026-11-20", GOOD_EVENTS[3:])),
                ("m-2", message("2026-11-20", GOOD_EVENTS[:1]))]  # a redelivered event
    landing = land_messages(messages, store, NOW)
    assert landing.failures() == ["m-poison"] and landing.landed == ["m-0", "m-1", "m-2"]
    (key,) = store.list("events/")
    landed = pq.read_table(io.BytesIO(store.get(key)))
    assert sorted(landed["event_id"].to_pylist()) == sorted(e["event_id"] for e in GOOD_EVENTS)
    (filed,) = store.list("events-rejected/")
    assert filed == "events-rejected/dt=2026-11-21/m-poison.json" == landing.refused[0].key
    record = json.loads(store.get(filed))
    assert record["body"] == POISON[poison] and record["message_id"] == "m-poison"
    assert record["reason"] == landing.refused[0].reason and record["rejected_at"] == NOW


def test_a_partition_whose_write_fails_fails_only_its_own_messages() -> None:
    class FailingDay(MemoryObjectStore):
        def put(self, key: str, body: bytes) -> None:
            if "dt=2026-11-19" in key:
                raise StoreError("s3 put: unavailable")
            super().put(key, body)

    store = FailingDay()
    other_day = [normalised(event("A", "tea", at=DAY0 - timedelta(days=1)))]
    landing = land_messages([("m-0", message("2026-11-20", GOOD_EVENTS)),
                             ("m-1", message("2026-11-19", other_day))], store, NOW)
    assert landing.failures() == ["m-1"] and landing.refused == []
    assert list(landing.written) == ["2026-11-20"] and len(store.list("events/")) == 1


def test_landed_messages_get_the_same_key_however_they_are_batched() -> None:
    """A retried message among others, or alone: its events overwrite, never double."""
    once, twice = MemoryObjectStore(), MemoryObjectStore()
    land_messages([("a", message("2026-11-20", GOOD_EVENTS))], once, NOW)
    land_messages([("b", message("2026-11-20", GOOD_EVENTS[:2])),
                   ("c", message("2026-11-20", GOOD_EVENTS[2:])),
                   ("d", message("2026-11-20", GOOD_EVENTS[:2]))], twice, NOW)
    assert once.list("events/") == twice.list("events/")
