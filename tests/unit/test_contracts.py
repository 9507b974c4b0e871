"""The contracts between writers and readers: keys, the stored entry, the bucket layout.

Known answers pin the spellings that stored data already uses (changing one orphans every
row or object written before); properties check that any id survives a round trip.
"""

from __future__ import annotations

import json
from datetime import date
from typing import get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recs.batch.pipeline import STEP_ORDER, build_definition
from recs.contracts import events, keys, layout
from recs.contracts import ids as ids_module
from recs.contracts.events import Event
from recs.contracts.items import FACT_AVAILABLE, FACT_CATEGORY, FACT_TITLE, ItemFacts
from recs.contracts.keys import Entry, NewArrival
from recs.contracts.state import BatchState
from recs.formats.event_files import SCHEMA
from recs.serving import reasons

# Ids as shops send them: any text, including the characters keys and paths are made of.
ids = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("#/=:._-"), min_size=1)


# -- DynamoDB keys ---------------------------------------------------------------------------
def test_list_keys_are_spelled_as_stored() -> None:
    assert keys.user_key("alice") == "U#alice"
    assert keys.session_key("s-1") == "S#s-1"
    assert keys.item_key("sku#1") == "I#sku#1"
    assert keys.GLOBAL_TRENDING == "POP#global"
    assert keys.category_key("food/dairy") == "POP#C#food/dairy"
    assert keys.UNAVAILABLE_KEYS == ("CATALOG#UNAVAILABLE#0", "CATALOG#UNAVAILABLE#1",
                                     "CATALOG#UNAVAILABLE#2", "CATALOG#UNAVAILABLE#3")
    assert keys.NEW_ARRIVALS_KEY == "CATALOG#NEW"
    assert (keys.MODEL_PARTITION, keys.LIVE_POINTER) == ("MODEL", "LIVE")


def test_an_item_s_unavailable_shard_is_pinned_by_its_id() -> None:
    # Known answers: the first 4 bytes of SHA-256 modulo 4. A new spelling would strand
    # every item already marked unavailable in a shard nobody looks in.
    assert [keys.unavailable_shard(i) for i in ("sku-1", "sku-2", "Käse", "")] == [2, 3, 0, 2]
    assert {keys.unavailable_shard(f"sku-{n}") for n in range(40)} == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        keys.unavailable_key(keys.UNAVAILABLE_SHARDS)


@given(ids)
def test_every_id_has_one_shard_among_the_keys_read(item_id: str) -> None:
    shard = keys.unavailable_shard(item_id)
    assert keys.unavailable_key(shard) in keys.UNAVAILABLE_KEYS


def test_logs_name_shoppers_by_a_hash_and_other_keys_as_they_are() -> None:
    assert keys.loggable_key("U#alice") == "U##2bd806c97f0e"
    assert "alice" not in keys.loggable_key("U#alice")
    assert "s-1" not in keys.loggable_key("S#s-1")
    assert keys.loggable_key("POP#global") == "POP#global"
    assert keys.loggable_key("I#sku-1") == "I#sku-1"
    assert ids_module.log_id("alice") == "#2bd806c97f0e"  # sha256("alice")[:12]
    assert ids_module.log_id(None) == "-"


def test_a_category_falls_back_to_its_parents_most_specific_first() -> None:
    assert keys.category_keys("food/dairy/cheese") == [
        "POP#C#food/dairy/cheese", "POP#C#food/dairy", "POP#C#food"]
    assert keys.category_keys("/food/dairy/") == ["POP#C#food/dairy", "POP#C#food"]
    assert keys.category_keys("food") == ["POP#C#food"]
    assert keys.category_keys(None) == keys.category_keys("") == []


def test_a_shopper_is_their_user_then_their_session() -> None:
    assert keys.shopper_keys("u", "s") == ["U#u", "S#s"]
    assert keys.shopper_keys(None, "s") == ["S#s"]
    assert keys.shopper_keys("u", None) == ["U#u"]
    assert keys.shopper_keys(None, None) == keys.shopper_keys("", "") == []


def test_parsing_names_the_kind_and_refuses_strangers() -> None:
    assert keys.parse_list_key("POP#global") == (keys.TRENDING, "")
    assert keys.parse_list_key("POP#C#a/b") == (keys.CATEGORY_TRENDING, "a/b")
    assert keys.parse_list_key("U#POP#global") == (keys.USER, "POP#global")
    assert keys.category_of("POP#C#food") == "food"
    for stranger in ("POP#globalx", "X#1", "u#lower", "CATALOG#NEW", ""):
        with pytest.raises(ValueError):
            keys.parse_list_key(stranger)
    with pytest.raises(ValueError):
        keys.category_of("U#alice")


@given(ids)
def test_every_kind_of_key_parses_back_to_its_id(value: str) -> None:
    for build, kind in ((keys.user_key, keys.USER), (keys.session_key, keys.SESSION),
                        (keys.item_key, keys.ITEM_NEIGHBOURS),
                        (keys.category_key, keys.CATEGORY_TRENDING)):
        assert keys.parse_list_key(build(value)) == (kind, value)


@given(ids, ids)
def test_keys_of_different_kinds_or_ids_never_collide(a: str, b: str) -> None:
    built = {build(v) for build in (keys.user_key, keys.session_key, keys.item_key,
                                    keys.category_key) for v in (a, b)} | {keys.GLOBAL_TRENDING}
    assert len(built) == (9 if a != b else 5)


@given(st.lists(ids.filter(lambda p: "/" not in p), min_size=1, max_size=5))
def test_every_fallback_key_is_a_parent_path_of_the_category(parts: list[str]) -> None:
    path = "/".join(parts)
    fallback = [keys.category_of(k) for k in keys.category_keys(path)]
    assert fallback == ["/".join(parts[:depth]) for depth in range(len(parts), 0, -1)]


# -- the stored entry ------------------------------------------------------------------------
RICE = Entry(item="rice", score=0.5, because="milk", event="purchase", category="food/grains",
             title="Rice", because_title="Milk")


def test_an_entry_is_stored_as_a_seven_field_json_list_in_field_order() -> None:
    assert json.dumps(RICE) == '["rice", 0.5, "milk", "purchase", "food/grains", "Rice", "Milk"]'
    assert Entry._fields == ("item", "score", "because", "event", "category", "title",
                             "because_title")


def test_the_read_paths_positions_are_the_entrys_fields() -> None:
    stored = json.loads(json.dumps(RICE))
    assert [stored[i] for i in (keys.ITEM, keys.SCORE, keys.BECAUSE, keys.EVENT,
                                keys.CATEGORY, keys.TITLE, keys.BECAUSE_TITLE)] == [
        RICE.item, RICE.score, RICE.because, RICE.event, RICE.category, RICE.title,
        RICE.because_title]
    arrival = json.loads(json.dumps(NewArrival("n1", 1_700_000_000_000, "toys", "Kite")))
    assert (arrival[keys.ARRIVAL_ITEM], arrival[keys.ARRIVAL_CREATED_AT],
            arrival[keys.ARRIVAL_CATEGORY], arrival[keys.ARRIVAL_TITLE]) == (
        "n1", 1_700_000_000_000, "toys", "Kite")
    facts = json.loads(json.dumps(ItemFacts("toys", "Kite", False)))
    assert (facts[FACT_CATEGORY], facts[FACT_TITLE], facts[FACT_AVAILABLE]) == (
        "toys", "Kite", False)


@given(st.builds(Entry, item=ids, score=st.floats(allow_nan=False, allow_infinity=False),
                 because=st.none() | ids, event=st.sampled_from(["purchase", "similar", "new"]),
                 category=st.none() | ids, title=st.none() | ids, because_title=st.none() | ids))
def test_an_entry_survives_the_json_round_trip(entry: Entry) -> None:
    assert Entry._make(json.loads(json.dumps(entry, separators=(",", ":")))) == entry


# -- the bucket layout -----------------------------------------------------------------------
V = "20261123-0123456789"


def test_the_layout_is_spelled_as_stored() -> None:
    assert layout.event_partition("2026-11-23") == "events/dt=2026-11-23/"
    assert layout.event_file("2026-11-23", "ab12") == "events/dt=2026-11-23/part-ab12.parquet"
    assert layout.catalog_delta(1_700_000_000_000, "beef") == (
        "catalog/updates/001700000000000-beef.jsonl")
    assert [layout.window_files(V), layout.window_events(V), layout.interactions(V),
            layout.catalog_snapshot(V)] == [
        f"interactions/{V}/window.json", f"interactions/{V}/events.parquet",
        f"interactions/{V}/interactions.npz", f"interactions/{V}/catalog.json"]
    assert [layout.model_prefix(V), layout.model(V), layout.params(V)] == [
        f"models/{V}/", f"models/{V}/model.npz", f"models/{V}/params.json"]


def test_every_key_lies_under_one_top_level_prefix_and_iam_grants_it_with_a_star() -> None:
    built = [layout.event_file("2026-11-23", "x"), layout.catalog_delta(0, "x"),
             layout.window_files(V), layout.window_events(V), layout.interactions(V),
             layout.catalog_snapshot(V),
             layout.model(V), layout.params(V), layout.rejected_event("2026-11-23", "m-1"),
             layout.row_file(V, 3), layout.spark_manifest(V), layout.shadow_model(V),
             layout.spark_logs()]
    for key in built:
        assert sum(key.startswith(prefix) for prefix in layout.PREFIXES) == 1
    assert [layout.iam_prefix(p) for p in layout.PREFIXES] == [
        "events/*", "events-rejected/*", "catalog/*", "interactions/*", "models/*", "logs/*"]
    assert layout.row_file(V, 3) == f"models/{V}/rows/part-00003.parquet"
    assert layout.is_row_file(layout.row_file(V, 3))
    assert not layout.is_row_file(layout.model(V))
    with pytest.raises(ValueError):
        layout.iam_prefix("events/dt=2026-11-23/")


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2999, 12, 31)),
       st.text(alphabet="0123456789abcdef", min_size=1, max_size=20))
def test_an_event_files_date_parses_back(day: date, digest: str) -> None:
    assert layout.event_file_date(layout.event_file(day.isoformat(), digest)) == day.isoformat()


def test_only_event_files_have_a_date() -> None:
    assert layout.event_file_date("events/dt=2026-11-23/") is None
    assert layout.event_file_date("events/dt=2026-11-23/part-1.json") is None
    assert layout.event_file_date("interactions/dt=2026-11-23/part-1.parquet") is None
    assert layout.is_catalog_delta(layout.catalog_delta(5, "ab"))
    assert not layout.is_catalog_delta("catalog/updates/")


# -- typed shapes ----------------------------------------------------------------------------
def test_the_event_type_names_the_parquet_columns() -> None:
    assert list(get_type_hints(Event)) == SCHEMA.names


def test_the_batch_state_has_the_field_the_state_machines_gate_reads() -> None:
    definition = build_definition({step: f"arn:{step}" for step in STEP_ORDER})
    [choice] = definition["States"]["Gate"]["Choices"]
    state, verdict = choice["Variable"].removeprefix("$.").split(".")
    assert get_type_hints(get_type_hints(BatchState)[state])[verdict] is bool


# -- event kinds: one declaration, everything else derived ------------------------------------


def test_event_types_and_default_weights_are_as_documented() -> None:
    assert events.EVENT_TYPES == ("view", "click", "cart", "purchase", "wishlist", "return",
                                  "impression")
    assert events.DEFAULT_EVENT_WEIGHTS == {"view": 1.0, "click": 1.0, "cart": 3.0,
                                            "purchase": 5.0, "wishlist": 2.0, "return": -5.0,
                                            "impression": 0.0}


def test_intent_ranks_the_kinds_that_name_a_reason_weakest_first() -> None:
    """A model stores the strongest event as its position here: the order is a file format."""
    assert events.EVENT_RANK == ("impression", "view", "click", "wishlist", "cart", "purchase")
    assert "return" not in events.EVENT_RANK


def test_engagement_and_exposure_split_acting_from_being_shown() -> None:
    assert {"view", "click", "cart", "purchase", "wishlist"} == events.ENGAGED
    assert {"impression"} == events.EXPOSURES
    assert not events.ENGAGED & events.EXPOSURES


def test_the_reasons_words_come_from_the_kinds() -> None:
    assert reasons.because("purchase", "Rice") == "Because you bought Rice"
    assert reasons.because("cart", "Rice") == "Because you added Rice to your cart"
    assert reasons.because("click", "Rice") == "Because you viewed Rice"
    assert reasons.because("unknown", "Rice") == "Because you viewed Rice"
    assert reasons.again("purchase") == "Buy it again"
    assert reasons.again("wishlist") == "On your wishlist"
    assert reasons.again("view") == "You looked at this recently"


def test_every_kind_is_declared_once() -> None:
    names = [kind.name for kind in events.KINDS]
    assert len(names) == len(set(names))
    intents = [kind.intent for kind in events.KINDS if kind.intent is not None]
    assert len(intents) == len(set(intents))  # no two kinds tie for a reason's verb
