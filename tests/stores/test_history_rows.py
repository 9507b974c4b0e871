"""A shopper's nightly history beside their list (``exclude=seen``), on both implementations
(the in-memory fake and DynamoDB under moto, see conftest.py)."""

from __future__ import annotations

from typing import Any

from recs.contracts.keys import Entry
from recs.stores.ports import RealtimeStore, RecommendationStore, RecRow, ServingReader
from tests.stores.conftest import Corrupt

V = "20261121-abc"


def entry(item: str) -> list[Any]:
    return list(Entry(item, 1.0, item, "purchase", "food", item.upper(), item.upper()))


def test_the_history_is_read_with_the_list_only_when_asked(
    recommendation_store: RecommendationStore, serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("U#u", V, [entry("rice")], history=("rice", "tea")),
                                RecRow("POP#global", V, [entry("milk")])])
    lists, shoppers, _ = serving_reader.read(["U#u", "POP#global"], V, ["U#u"])
    assert lists["U#u"] == [entry("rice")] and shoppers == {}  # no realtime row, not asked
    lists, shoppers, _ = serving_reader.read(["U#u", "POP#global"], V, ["U#u"], history=True)
    assert lists["U#u"] == [entry("rice")]
    assert shoppers["U#u"].history == ["rice", "tea"] and shoppers["U#u"].recent == []


def test_the_history_joins_the_shoppers_realtime_state(
    recommendation_store: RecommendationStore, realtime_store: RealtimeStore,
    serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("U#u", V, [entry("rice")], history=("lamb",))])
    realtime_store.record("U#u", [("tea", "view", 5)], ["milk"], 10)
    _, shoppers, _ = serving_reader.read(["U#u"], V, ["U#u"], history=True)
    state = shoppers["U#u"]
    assert (state.recent, state.shown, state.history) == ([("tea", "view", 5)], ["milk"],
                                                          ["lamb"])


def test_a_row_without_a_history_or_of_another_version_gives_none(
    recommendation_store: RecommendationStore, serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("U#u", V, [entry("rice")]),
                                RecRow("U#w", "older", [entry("rice")], history=("rice",))])
    _, shoppers, _ = serving_reader.read(["U#u", "U#w"], V, ["U#u", "U#w"], history=True)
    assert shoppers == {}


def test_a_rewritten_row_without_a_history_loses_the_old_one(
    recommendation_store: RecommendationStore, serving_reader: ServingReader,
) -> None:
    recommendation_store.write([RecRow("U#u", V, [entry("rice")], history=("rice",))])
    recommendation_store.write([RecRow("U#u", V, [entry("milk")])])
    _, shoppers, _ = serving_reader.read(["U#u"], V, ["U#u"], history=True)
    assert shoppers == {}


def test_an_unreadable_list_keeps_its_history_out_of_nothing_else(
    recommendation_store: RecommendationStore, serving_reader: ServingReader,
    corrupt: Corrupt,
) -> None:
    """A garbled ``items`` is a missing list; the rest of the answer stands."""
    recommendation_store.write([RecRow("POP#global", V, [entry("milk")])])
    corrupt.list_row("U#u", V, "not json")
    lists, _, _ = serving_reader.read(["U#u", "POP#global"], V, ["U#u"], history=True)
    assert list(lists) == ["POP#global"]
