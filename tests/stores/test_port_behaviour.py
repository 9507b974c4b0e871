"""What every implementation of a store port must do: each test runs on the in-memory fake and
on the AWS adapter under moto (see conftest.py), with the same body.

What only one implementation can show (DynamoDB batch sizes, concurrent writers, retries of
unprocessed items, round trips counted on the client, trimming inside the table) stays in
tests/integration.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from recs.contracts.keys import Entry, row_keys_key, unavailable_shard
from recs.exceptions import NotFound, PromotionRefused, StateLimitExceeded
from recs.intake.catalog import apply, validate_items
from recs.stores.ports import (
    NEW_ARRIVALS_BYTES,
    NEW_ARRIVALS_LIMIT,
    RECENT_LIMIT,
    SEEN_LIMIT,
    SHOWN_LIMIT,
    UNAVAILABLE_SHARD_BYTES,
    EventQueue,
    ModelRegistry,
    ModelVersion,
    ObjectStore,
    RealtimeStore,
    RecommendationStore,
    RecRow,
    ServingReader,
)
from tests.stores.conftest import Corrupt, Sent, Stores


def entry(item: str, score: float, because: str | None = None, event: str = "trending",
          category: str | None = "food", title: str | None = None) -> list[Any]:
    """A stored list entry as ``json.loads`` gives it back: ``Entry``'s seven fields."""
    return list(Entry(item, score, because, event, category, title or item.upper(), because))

# -- ObjectStore ----------------------------------------------------------------------------


def test_s3_objects_round_trip_and_a_missing_key_is_not_found(object_store: ObjectStore) -> None:
    store = object_store
    store.put("events/dt=2026-11-20/a.parquet", b"x")
    assert store.list("events/") == ["events/dt=2026-11-20/a.parquet"]
    assert store.get("events/dt=2026-11-20/a.parquet") == b"x"
    with pytest.raises(NotFound):
        store.get("nope")


def test_tail_gives_the_last_bytes_and_the_whole_size(object_store: ObjectStore) -> None:
    object_store.put("models/v1/rows/part-00000.parquet", b"0123456789")
    assert object_store.tail("models/v1/rows/part-00000.parquet", 4) == (b"6789", 10)
    # Asking for more than there is gives all of it (S3's suffix range does the same).
    assert object_store.tail("models/v1/rows/part-00000.parquet", 64) == (b"0123456789", 10)
    object_store.put("models/v1/empty", b"")
    assert object_store.tail("models/v1/empty", 8) == (b"", 0)
    with pytest.raises(NotFound):
        object_store.tail("models/v1/absent", 8)


def test_span_gives_the_bytes_from_an_offset_cut_at_the_end(object_store: ObjectStore) -> None:
    object_store.put("models/v1/rows/part-00000.parquet", b"0123456789")
    assert object_store.span("models/v1/rows/part-00000.parquet", 2, 3) == b"234"
    assert object_store.span("models/v1/rows/part-00000.parquet", 0, 10) == b"0123456789"
    # Past the end, what there is (S3 cuts the range the same way), then nothing.
    assert object_store.span("models/v1/rows/part-00000.parquet", 8, 64) == b"89"
    assert object_store.span("models/v1/rows/part-00000.parquet", 12, 4) == b""
    assert object_store.span("models/v1/rows/part-00000.parquet", 3, 0) == b""
    with pytest.raises(NotFound):
        object_store.span("models/v1/absent", 0, 8)


def test_list_is_a_plain_string_prefix_sorted(object_store: ObjectStore) -> None:
    keys = ["events/dt=2026-11-20/b.parquet", "events/dt=2026-11-2/a.parquet",
            "events/dt=2026-11-20/a.parquet", "eventsx/c", "models/v1/model.npz"]
    for key in keys:
        object_store.put(key, key.encode())
    assert object_store.list("events/dt=2026-11-2") == sorted(keys[:3])
    assert object_store.list("events/dt=2026-11-20/") == sorted(keys[::2][:2])
    assert object_store.list("events") == sorted(keys[:4])
    assert object_store.list("") == sorted(keys)
    assert object_store.list("nothing/") == []
    with pytest.raises(NotFound):
        object_store.get("events/")  # a prefix is not an object


def test_put_replaces_and_bodies_come_back_byte_for_byte(object_store: ObjectStore) -> None:
    object_store.put("k", b"first")
    object_store.put("k", b"second")
    object_store.put("empty", b"")
    binary = bytes(range(256)) * 40
    object_store.put("binary", binary)
    assert object_store.get("k") == b"second"
    assert object_store.get("empty") == b""
    assert object_store.get("binary") == binary
    assert object_store.list("") == ["binary", "empty", "k"]


def test_list_returns_every_key_past_one_page(object_store: ObjectStore) -> None:
    # S3 answers ListObjectsV2 a thousand keys at a time.
    keys = [f"landing/{n:05d}.json" for n in range(1_001)]
    for key in keys:
        object_store.put(key, b"{}")
    assert object_store.list("landing/") == keys


# -- EventQueue -----------------------------------------------------------------------------


def test_sqs_sends_every_body_in_batches(event_queue: EventQueue, sent: Sent) -> None:
    event_queue.send([f"m{n}" for n in range(23)])
    bodies = sent()
    assert sorted(bodies) == sorted(f"m{n}" for n in range(23))


def test_large_and_repeated_bodies_all_arrive(event_queue: EventQueue, sent: Sent) -> None:
    # 60 KB each: a 256 KB SQS batch holds four, so ten go in several batches.
    large = [f"{n}:" + "é" * 30_000 for n in range(10)]
    event_queue.send(large)
    event_queue.send(["same", "same"])
    event_queue.send([])
    assert Counter(sent()) == Counter([*large, "same", "same"])


# -- RecommendationStore --------------------------------------------------------------------


def test_rows_are_read_back_by_key_and_version_and_missing_keys_are_absent(
    recommendation_store: RecommendationStore,
) -> None:
    # 130 rows and 131 keys: past DynamoDB's 25 writes and 100 reads per batch call.
    rows = (RecRow(f"U#{n}", "v1", [entry("a", float(n), "b", "view")], 1) for n in range(130))
    assert recommendation_store.write(rows) == 130
    found = recommendation_store.get_many([f"U#{n}" for n in range(130)] + ["U#missing"], "v1")
    assert len(found) == 130 and "U#missing" not in found
    assert found["U#7"] == [entry("a", 7.0, "b", "view")]
    assert recommendation_store.get_many(["U#7"], "v2") == {}
    assert recommendation_store.get_many([], "v1") == {}


def test_a_rewrite_replaces_the_list_of_its_version_only(
    recommendation_store: RecommendationStore,
) -> None:
    recommendation_store.write([RecRow("I#x", "v1", [entry("a", 1.0)]),
                                RecRow("I#x", "v2", [entry("b", 2.0)])])
    assert recommendation_store.write([RecRow("I#x", "v1", [entry("c", 3.0)])]) == 1
    assert recommendation_store.get_many(["I#x"], "v1") == {"I#x": [entry("c", 3.0)]}
    assert recommendation_store.get_many(["I#x"], "v2") == {"I#x": [entry("b", 2.0)]}


def test_the_last_row_of_a_key_wins_within_one_write(
    recommendation_store: RecommendationStore,
) -> None:
    rows = [RecRow(f"U#{n % 7}", "v1", [entry(f"item{n}", float(n))]) for n in range(30)]
    assert recommendation_store.write(rows) == 30
    last = {row.key: row.items for row in rows}
    assert recommendation_store.get_many(list(last), "v1") == last


def test_entries_come_back_as_written(recommendation_store: RecommendationStore) -> None:
    entries = [["sku-1", 0.125, "sku-0", "purchase", "food/Käse", "Emmentaler 200 g", "Brot"],
               ["sku-2", 1e-9, None, None, None, "", ""], ["sku-3", -2, "x", "view", "", None,
                                                          "\u2028 🧀"]]
    recommendation_store.write([RecRow("POP#global", "v1", entries),
                                RecRow("POP#C#Käse", "v1", [])])
    found = recommendation_store.get_many(["POP#global", "POP#C#Käse", "POP#global"], "v1")
    assert found == {"POP#global": entries, "POP#C#Käse": []}


def test_a_versions_rows_are_deleted_by_key_and_no_other_version_is_touched(
    recommendation_store: RecommendationStore,
) -> None:
    # 60 keys: past DynamoDB's 25 deletes per batch call; a key without a row is no error.
    listed = [list(Entry("a", 1.0, None, "trending", None, None, None))]
    rows = [RecRow(f"U#{n}", version, listed) for n in range(55) for version in ("v1", "v2")]
    recommendation_store.write(rows)
    keys = [f"U#{n}" for n in range(55)] + [f"U#gone{n}" for n in range(5)]
    assert recommendation_store.delete(iter(keys), "v1") == 60
    assert recommendation_store.get_many(keys, "v1") == {}
    assert len(recommendation_store.get_many(keys, "v2")) == 55
    assert recommendation_store.delete([], "v2") == 0


def test_a_versions_row_keys_are_kept_in_chunks_beside_its_rows(
    recommendation_store: RecommendationStore,
) -> None:
    # About 600 KB of keys, so more than one chunk (each fits a DynamoDB item), with the
    # characters keys may hold.
    keys = [f"U#shopper-{n:06d}-Käse\n\"#🧀/" for n in range(16_000)]
    chunks = recommendation_store.write_row_keys("v1", keys)
    assert chunks >= 2
    read = list(recommendation_store.read_row_keys("v1"))
    assert len(read) == chunks and [key for chunk in read for key in chunk] == keys
    assert list(recommendation_store.read_row_keys("v2")) == []
    assert recommendation_store.write_row_keys("v3", []) == 0
    # The chunks are rows of the version under KEYS#<n>: deleting those keys removes them.
    recommendation_store.delete([row_keys_key(n) for n in range(chunks)], "v1")
    assert list(recommendation_store.read_row_keys("v1")) == []


# -- ModelRegistry --------------------------------------------------------------------------


def test_the_registry_promotes_with_one_conditional_write(model_registry: ModelRegistry) -> None:
    registry = model_registry
    assert registry.live_version() is None
    for version in ("v1", "v2", "v3"):
        registry.put_version(ModelVersion(version, "exported", "now", counts={"rows": 3}))
    registry.promote("v1", None, "t1")
    registry.promote("v2", "v1", "t2")
    with pytest.raises(PromotionRefused):
        registry.promote("v3", "v1", "t3")  # somebody else moved the pointer
    with pytest.raises(PromotionRefused):
        registry.promote("v9", "v2", "t3")  # unknown version
    assert registry.live_version() == "v2"
    statuses = {v.version: v.status for v in registry.list_versions()}
    assert statuses == {"v1": "archived", "v2": "live", "v3": "exported"}
    assert registry.get_version("v2").promoted_at == "t2"  # type: ignore[union-attr]


def test_versions_round_trip_and_list_in_version_order(model_registry: ModelRegistry) -> None:
    record = ModelVersion(
        "20261120T0300Z", "exported", "2026-11-20T03:00:00Z", window_start="2026-10-21",
        window_end="2026-11-20", params={"algorithm": "blend", "k": 50, "alpha": 0.5},
        counts={"users": 3, "items": 7}, metrics={"ndcg@10": 0.25, "by_k": {"5": [0.1, 0.2]}},
        prefix="models/20261120T0300Z/", reason="",
    )
    model_registry.put_version(record)
    model_registry.put_version(ModelVersion("20261119T0300Z", "rejected", "t", reason="gate"))
    assert model_registry.get_version("20261120T0300Z") == record
    assert model_registry.get_version("nope") is None
    assert [v.version for v in model_registry.list_versions()] == ["20261119T0300Z",
                                                                   "20261120T0300Z"]
    got = model_registry.get_version("20261120T0300Z")
    assert got is not None
    got.params["k"] = 1  # a copy: changing it changes nothing stored
    assert model_registry.get_version("20261120T0300Z") == record
    model_registry.put_version(ModelVersion("20261120T0300Z", "failed", "t", reason="boom"))
    replaced = model_registry.get_version("20261120T0300Z")
    assert replaced is not None and (replaced.status, replaced.params) == ("failed", {})


def test_a_refused_promotion_changes_nothing(model_registry: ModelRegistry) -> None:
    for version in ("v1", "v2"):
        model_registry.put_version(ModelVersion(version, "exported", "now"))
    with pytest.raises(PromotionRefused):
        model_registry.promote("v1", "v0", "t1")  # nothing is live yet
    model_registry.promote("v1", None, "t1")
    with pytest.raises(PromotionRefused):
        model_registry.promote("v2", None, "t2")  # v1 went live meanwhile
    with pytest.raises(PromotionRefused):
        model_registry.promote("v9", "v1", "t2")
    assert model_registry.live_version() == "v1"
    assert [(v.version, v.status, v.promoted_at) for v in model_registry.list_versions()] == [
        ("v1", "live", "t1"), ("v2", "exported", "")]


def test_an_archived_version_can_go_live_again(model_registry: ModelRegistry) -> None:
    for version in ("v1", "v2"):
        model_registry.put_version(ModelVersion(version, "exported", "now"))
    model_registry.promote("v1", None, "t1")
    model_registry.promote("v2", "v1", "t2")
    model_registry.promote("v1", "v2", "t3")  # a rollback
    model_registry.promote("v1", "v1", "t4")  # promoting the live version keeps it live
    assert model_registry.live_version() == "v1"
    assert [(v.version, v.status, v.promoted_at) for v in model_registry.list_versions()] == [
        ("v1", "live", "t4"), ("v2", "archived", "t2")]


def test_promotion_records_when_the_replaced_version_stopped_being_live(
        model_registry: ModelRegistry) -> None:
    for version in ("v1", "v2"):
        model_registry.put_version(ModelVersion(version, "exported", "t0"))
    model_registry.promote("v1", None, "t1")
    model_registry.promote("v2", "v1", "t2")
    replaced = model_registry.get_version("v1")
    assert replaced is not None and (replaced.status, replaced.superseded_at) == ("archived", "t2")
    assert model_registry.get_version("v2").superseded_at == ""  # type: ignore[union-attr]


def test_a_version_is_retired_only_when_not_live_and_then_never_goes_live(
        model_registry: ModelRegistry) -> None:
    for version in ("v1", "v2"):
        model_registry.put_version(ModelVersion(version, "exported", "t0"))
    model_registry.promote("v1", None, "t1")
    model_registry.promote("v2", "v1", "t2")
    assert model_registry.retire("v2") is False  # live
    assert model_registry.retire("nope") is False
    assert model_registry.retire("v1") is True
    assert model_registry.get_version("v1").status == "expiring"  # type: ignore[union-attr]
    with pytest.raises(PromotionRefused):
        model_registry.promote("v1", "v2", "t3")  # a rollback to rows being deleted
    model_registry.put_version(ModelVersion("v1", "expired", "t0"))
    with pytest.raises(PromotionRefused):
        model_registry.promote("v1", "v2", "t3")
    assert model_registry.live_version() == "v2"
    assert model_registry.get_version("v2").status == "live"  # type: ignore[union-attr]


def test_what_a_run_skipped_round_trips_in_its_record(model_registry: ModelRegistry) -> None:
    record = ModelVersion(
        "v1", "exported", "t0", counts={"skipped_event_files": 1, "event_bytes": 10},
        superseded_at="t9",
        skipped={"events": [{"key": "events/dt=2026-11-20/part-x.parquet", "bytes": 3,
                             "reason": "not a readable Parquet file: magic"}],
                 "catalog": [{"key": "catalog/updates/1.jsonl", "line": 4, "bytes": 40,
                              "reason": "category: not encodable as UTF-8"}]})
    model_registry.put_version(record)
    assert model_registry.get_version("v1") == record
    assert model_registry.list_versions() == [record]


# -- RealtimeStore (read back through the ServingReader, as serving reads it) ---------------


def test_recent_events_and_impressions_keep_the_newest_within_their_bounds(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    calls = 3 * SHOWN_LIMIT // 10
    for n in range(calls):
        recent = [(f"item{n}.{k}", "view", 1000 * n + k) for k in range(3)]
        realtime_store.record("U#u", recent, [f"shown{n}.{k}" for k in range(10)], 5000)
    _, shoppers, _ = serving_reader.read([], None, ["U#u"])
    state = shoppers["U#u"]
    everything = [(f"item{n}.{k}", "view", 1000 * n + k) for n in range(calls) for k in range(3)]
    assert state.recent == everything[-RECENT_LIMIT:]
    assert state.shown == [f"shown{n}.{k}" for n in range(calls) for k in range(10)][
        -SHOWN_LIMIT:]


def test_one_record_longer_than_the_bound_keeps_its_newest(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    recent = [(f"i{n}", "cart", n) for n in range(RECENT_LIMIT + 5)]
    realtime_store.record("S#s", recent, [], 5000)
    realtime_store.record("U#other", [("x", "purchase", 1)], ["y"], 5000)
    _, shoppers, _ = serving_reader.read([], None, ["S#s", "U#other", "U#nobody"])
    assert set(shoppers) == {"S#s", "U#other"}
    assert shoppers["S#s"].recent == recent[-RECENT_LIMIT:] and shoppers["S#s"].shown == []
    assert (shoppers["U#other"].recent, shoppers["U#other"].shown) == ([("x", "purchase", 1)],
                                                                      ["y"])


def test_a_retried_record_with_the_same_event_ids_changes_nothing(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    recent = [("rice", "view", 1), ("milk", "cart", 2)]
    for _ in range(3):  # the request, then two retries of it
        realtime_store.record("U#u", recent, ["tea"], 5000, recent_ids=["e1", "e2"],
                              shown_ids=["e3"])
    _, shoppers, _ = serving_reader.read([], None, ["U#u"])
    assert (shoppers["U#u"].recent, shoppers["U#u"].shown) == (recent, ["tea"])


def test_an_overlapping_retry_appends_only_the_events_not_recorded_before(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    realtime_store.record("S#s", [("rice", "view", 1)], ["tea"], 5000, recent_ids=["e1"],
                          shown_ids=["e2"])
    # A client resends its batch with one more event of each kind, in the same order.
    realtime_store.record("S#s", [("rice", "view", 1), ("milk", "view", 2)], ["tea", "tea"],
                          5000, recent_ids=["e1", "e3"], shown_ids=["e2", "e4"])
    # An id repeated within one call counts once; an entry without ids always appends.
    realtime_store.record("S#s", [("lamb", "cart", 3), ("lamb", "cart", 3)], [], 5000,
                          recent_ids=["e5", "e5"])
    realtime_store.record("S#s", [], ["tea"], 5000)
    _, shoppers, _ = serving_reader.read([], None, ["S#s"])
    assert shoppers["S#s"].recent == [("rice", "view", 1), ("milk", "view", 2),
                                      ("lamb", "cart", 3)]
    assert shoppers["S#s"].shown == ["tea", "tea", "tea"]


def test_the_last_seen_limit_event_ids_are_remembered_past_the_list_bounds(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    # 3 x SEEN_LIMIT events, ten a call, then a retry of the newest SEEN_LIMIT of them.
    events = [(f"e{n}", (f"i{n}", "view", n)) for n in range(3 * SEEN_LIMIT)]
    for start in range(0, len(events), 10):
        chunk = events[start:start + 10]
        realtime_store.record("U#v", [entry for _, entry in chunk], [], 5000,
                              recent_ids=[event_id for event_id, _ in chunk])
    _, before, _ = serving_reader.read([], None, ["U#v"])
    newest = events[-SEEN_LIMIT:]
    for start in range(0, SEEN_LIMIT, RECENT_LIMIT):
        chunk = newest[start:start + RECENT_LIMIT]
        realtime_store.record("U#v", [entry for _, entry in chunk], [], 5000,
                              recent_ids=[event_id for event_id, _ in chunk])
    _, after, _ = serving_reader.read([], None, ["U#v"])
    assert after["U#v"].recent == before["U#v"].recent == [e for _, e in events][-RECENT_LIMIT:]


def test_more_ids_than_one_condition_checks_are_all_recorded_once(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    # A bulk upload: 30 recent events and 100 impressions for one shopper in one call.
    recent = [(f"i{n}", "view", n) for n in range(RECENT_LIMIT)]
    shown = [f"s{n}" for n in range(SHOWN_LIMIT)]
    ids = {"recent_ids": [f"r{n}" for n in range(RECENT_LIMIT)],
           "shown_ids": [f"s{n}" for n in range(SHOWN_LIMIT)]}
    realtime_store.record("U#bulk", recent, shown, 5000, **ids)
    realtime_store.record("U#bulk", recent, shown, 5000, **ids)
    _, shoppers, _ = serving_reader.read([], None, ["U#bulk"])
    assert (shoppers["U#bulk"].recent, shoppers["U#bulk"].shown) == (recent, shown)


def test_catalog_state_tracks_unavailable_items_and_new_arrivals(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    store = realtime_store
    store.update_catalog({"a", "b"}, set(), [["n1", 10, "c", "N1"]])
    store.update_catalog(set(), {"a"}, [["n2", 20, "c", "N2"], ["n1", 10, "c", "N1"]])
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None
    assert state.unavailable == {"b"}
    assert [a[0] for a in state.new_arrivals] == ["n2", "n1"]


def test_available_wins_over_unavailable_in_one_update_and_all_can_return(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    realtime_store.update_catalog({"a", "b"}, {"b"}, [])
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.unavailable == {"a"}
    realtime_store.update_catalog(set(), {"a", "never-listed"}, [])
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.unavailable == set() and state.new_arrivals == []


def test_new_arrivals_merge_newest_first_one_entry_per_item_and_bounded(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    first = [[f"n{n:03d}", n, "c", f"N{n}"] for n in range(NEW_ARRIVALS_LIMIT)]
    realtime_store.update_catalog(set(), set(), first)
    # A later update replaces an item's entry and pushes the oldest out.
    realtime_store.update_catalog(set(), set(), [["n000", 1_000, "d", "renamed"],
                                                 ["z", 500, "c", "Z"], ["y", 500, "c", "Y"]])
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None
    arrivals = state.new_arrivals
    assert len(arrivals) == NEW_ARRIVALS_LIMIT
    assert arrivals[:3] == [["n000", 1_000, "d", "renamed"], ["y", 500, "c", "Y"],
                            ["z", 500, "c", "Z"]]
    assert arrivals[3][0] == f"n{NEW_ARRIVALS_LIMIT - 1:03d}"
    assert {"n001", "n002"}.isdisjoint(a[0] for a in arrivals)  # the two oldest dropped
    assert [a[0] for a in arrivals].count("n000") == 1


# -- ServingReader --------------------------------------------------------------------------


def test_lists_shopper_state_and_catalog_come_back_from_one_call(
    recommendation_store: RecommendationStore, realtime_store: RealtimeStore,
    serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("U#u", "v1", [entry("x", 1.0, "y", "view")]),
                                RecRow("POP#global", "v1", [entry("z", 2.0)]),
                                RecRow("U#u", "v0", [entry("old", 1.0)])])
    realtime_store.record("U#u", [("y", "cart", 7)], ["x"], 5000)
    realtime_store.update_catalog({"gone"}, set(), [["new", 9, "c", "New"]])
    lists, shoppers, state = serving_reader.read(
        ["U#u", "POP#global", "U#missing", "U#u"], "v1", ["U#u", "S#none"], catalog=True)
    assert lists == {"U#u": [entry("x", 1.0, "y", "view")], "POP#global": [entry("z", 2.0)]}
    assert set(shoppers) == {"U#u"}
    assert (shoppers["U#u"].recent, shoppers["U#u"].shown) == ([("y", "cart", 7)], ["x"])
    assert state is not None
    assert (state.unavailable, state.new_arrivals) == ({"gone"}, [["new", 9, "c", "New"]])


def test_without_a_version_or_the_catalog_those_parts_are_empty(
    recommendation_store: RecommendationStore, realtime_store: RealtimeStore,
    serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("U#u", "v1", [entry("x", 1.0, "y", "view")])])
    realtime_store.record("U#u", [("y", "cart", 7)], [], 5000)
    realtime_store.update_catalog({"gone"}, set(), [])
    lists, shoppers, state = serving_reader.read(["U#u"], None, ["U#u"])
    assert lists == {} and state is None and shoppers["U#u"].recent == [("y", "cart", 7)]
    assert serving_reader.read(["U#u"], "v9", []) == ({}, {}, None)
    assert serving_reader.read([], "v1", []) == ({}, {}, None)


def test_an_empty_catalog_reads_as_nothing_unavailable_and_no_arrivals(
    serving_reader: ServingReader,
) -> None:
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and (state.unavailable, state.new_arrivals) == (set(), [])


# -- rows the read path cannot use: absent, never an error ---------------------------------

UNREADABLE_LISTS = [
    "{not json", '{"items": []}', '"a string"', "[[1, 2, 3]]", '[["a", 1.0, null, "t"]]',
    '[["a", NaN, null, "t", null, null, null]]', '[["a", true, null, "t", null, null, null]]',
    '[[["a"], 1.0, null, "t", null, null, null]]', "[" * 100_000 + "]" * 100_000,
]


@pytest.mark.parametrize("text", UNREADABLE_LISTS, ids=range(len(UNREADABLE_LISTS)))
def test_a_list_row_that_is_not_a_list_of_entries_reads_as_missing(
    text: str, corrupt: Corrupt, recommendation_store: RecommendationStore,
    serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("POP#global", "v1", [entry("z", 2.0)])])
    corrupt.list_row("U#u", "v1", text)
    good = {"POP#global": [entry("z", 2.0)]}
    assert recommendation_store.get_many(["U#u", "POP#global"], "v1") == good
    lists, _, _ = serving_reader.read(["U#u", "POP#global"], "v1", [])
    assert lists == good


def test_a_shopper_row_of_the_wrong_shape_reads_as_missing(
    corrupt: Corrupt, realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    realtime_store.record("U#ok", [("x", "view", 1)], [], 5000)
    corrupt.shopper_row("U#bad")
    _, shoppers, _ = serving_reader.read([], None, ["U#bad", "U#ok"])
    assert set(shoppers) == {"U#ok"} and shoppers["U#ok"].recent == [("x", "view", 1)]


@pytest.mark.parametrize("text", ["not json", '{"x": 1}', '[["x", "yesterday", null, null]]',
                                  '[["x"]]', "[Infinity]"])
def test_an_unreadable_new_arrivals_row_is_no_arrivals_and_the_next_update_replaces_it(
    text: str, corrupt: Corrupt, realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    realtime_store.update_catalog({"gone"}, set(), [])
    corrupt.arrivals_row(text)
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.unavailable == {"gone"} and state.new_arrivals == []
    realtime_store.update_catalog(set(), set(), [["n1", 10, "c", "N1"]])
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.new_arrivals == [["n1", 10, "c", "N1"]]


def test_an_unavailable_shard_of_the_wrong_type_leaves_the_other_shards(
    corrupt: Corrupt, realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    first, second = ids_in_shard(0, 1)[0], ids_in_shard(1, 1)[0]
    realtime_store.update_catalog({first, second}, set(), [])
    corrupt.unavailable_row(0)
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.unavailable == {second}


# -- bounded state: every row fits one DynamoDB item (tests/stores/conftest.DynamoLimits) ----

def ids_in_shard(shard: int, count: int, length: int = 8, start: int = 0) -> list[str]:
    """``count`` distinct ids of ``length`` ASCII characters that land in ``shard``."""
    found: list[str] = []
    n = start
    while len(found) < count:
        candidate = f"{n:0{length}d}"
        if unavailable_shard(candidate) == shard:
            found.append(candidate)
        n += 1
    return found


def test_a_shard_of_unavailable_items_fills_to_its_bound_and_no_further(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    longest = 256  # the longest item id ingest accepts
    full = ids_in_shard(0, UNAVAILABLE_SHARD_BYTES // longest, longest)
    realtime_store.check_catalog(set(full), set())
    realtime_store.update_catalog(set(full), set(), [])  # and DynamoDB takes the item
    more = ids_in_shard(0, 2, longest, start=10**9)
    elsewhere = ids_in_shard(1, 1)
    with pytest.raises(StateLimitExceeded) as refused:
        realtime_store.check_catalog(set(more) | set(elsewhere), set())
    assert refused.value.field == "available"
    assert "shard 0 of 4" in str(refused.value) and f"{UNAVAILABLE_SHARD_BYTES:,}" in str(
        refused.value)
    # What would make room, and what adds nothing, fits; other shards are not full.
    realtime_store.check_catalog(set(more), set(full[:2]))
    realtime_store.check_catalog(set(more), set(more))
    realtime_store.check_catalog(set(full) | set(elsewhere), set())
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.unavailable == set(full)


def test_catalog_apply_refuses_a_full_shard_before_it_writes_the_delta(
    stores: Stores, serving_reader: ServingReader,
) -> None:
    full = ids_in_shard(2, UNAVAILABLE_SHARD_BYTES // 256, 256)
    stores.realtime.update_catalog(set(full), set(), [])
    now = 1_790_000_000_000
    items = validate_items([{"item_id": item, "available": False}
                            for item in ids_in_shard(2, 3, 256, start=10**9)]
                           + [{"item_id": "fresh", "created_at": now}], now).accepted
    with pytest.raises(StateLimitExceeded):
        apply(items, stores.objects, stores.realtime, now)
    assert stores.objects.list("") == []
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and state.unavailable == set(full) and state.new_arrivals == []
    # Making some available again in the same batch makes room: then all of it is recorded.
    items += validate_items([{"item_id": item, "available": True} for item in full[:3]],
                            now).accepted
    assert apply(items, stores.objects, stores.realtime, now)
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None and len(state.unavailable) == len(full)
    assert [a[0] for a in state.new_arrivals] == ["fresh"]


def test_new_arrivals_keep_the_newest_that_fit_their_bytes_whatever_the_titles(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    # The longest fields ingest accepts, in characters JSON escapes as 12 bytes each.
    arrivals = [[f"{n:06d}" + "\U0001F9C0" * 250, 1_000 + n, "\U0001F9C0" * 256,
                 "\U0001F9C0" * 512] for n in range(NEW_ARRIVALS_LIMIT)]
    realtime_store.update_catalog(set(), set(), arrivals)  # and DynamoDB takes the item
    _, _, state = serving_reader.read([], None, [], catalog=True)
    assert state is not None
    kept = state.new_arrivals
    newest = sorted(arrivals, key=lambda a: -a[1])
    assert 0 < len(kept) < NEW_ARRIVALS_LIMIT and kept == newest[:len(kept)]
    assert len(json.dumps(kept, separators=(",", ":"))) <= NEW_ARRIVALS_BYTES
    assert len(json.dumps(newest[:len(kept) + 1], separators=(",", ":"))) > NEW_ARRIVALS_BYTES


def test_a_shopper_row_with_the_longest_ids_fits_one_item(
    realtime_store: RealtimeStore, serving_reader: ServingReader,
) -> None:
    def longest(n: int) -> str:  # 256 characters, 1,006 bytes of UTF-8
        return f"{n:06d}" + "\U0001F9C0" * 250

    shopper = "U#" + "\U0001F9C0" * 256
    for call in range(8):  # each call as long as the bounds, so the lists fill and trim
        # Trimmed past 1.5 times their bounds, the lists hold at most 2.5 times them after an
        # append: (75 + 250) x ~1 KB, inside 400 KB (at twice, the third call passed it).
        realtime_store.record(
            shopper, [(longest(call * 1000 + k), "wishlist", 1_790_000_000_000 + k)
                      for k in range(RECENT_LIMIT)],
            [longest(call * 1000 + 500 + k) for k in range(SHOWN_LIMIT)], 5000,
            recent_ids=[f"r{call}.{k}" for k in range(RECENT_LIMIT)],
            shown_ids=[f"s{call}.{k}" for k in range(SHOWN_LIMIT)])
    _, shoppers, _ = serving_reader.read([], None, [shopper])
    assert [r[0] for r in shoppers[shopper].recent] == [
        longest(7000 + k) for k in range(RECENT_LIMIT)]
    assert shoppers[shopper].shown == [longest(7500 + k) for k in range(SHOWN_LIMIT)]
