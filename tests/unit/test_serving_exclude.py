"""``exclude``: which of the shopper's own items a list leaves out, in every tier alike.

The shop: the shopper ``u`` bought rice and viewed tea within the last two days (their realtime
events), and their nightly history holds rice, tea and lamb (lamb is in no list of theirs, but
is the best seller). Their nightly list repeats rice (it names itself as its reason) and offers
milk and coffee.
"""

from __future__ import annotations

import json

import pytest

from recs.api.params import parse
from recs.contracts.routes import EXCLUDE, ROUTES
from recs.exceptions import ParameterError
from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryRealtimeStore,
    MemoryServingReader,
)
from recs.stores.ports import RecRow
from tests.unit.serving_stack import live_service

V = "20261121-abc"
NOW = 1_795_000_000_000


def entry(item: str, score: float, category: str, because: str | None = None,
          event: str = "purchase") -> list:
    return [item, score, because, event, category, item.title(), (because or "").title()]


ROWS = [
    RecRow("POP#global", V, [entry("lamb", 9, "meat"), entry("bread", 8, "bakery"),
                             entry("rice", 7, "grain"), entry("tea", 6, "drinks")]),
    RecRow("U#u", V, [entry("rice", 5, "grain", "rice"), entry("milk", 4, "dairy", "rice"),
                      entry("coffee", 3, "drinks", "tea", "view")],
           history=("lamb", "rice", "tea")),
    RecRow("I#tea", V, [entry("coffee", 0.9, "drinks", "tea", "similar"),
                        entry("lamb", 0.8, "meat", "tea", "similar"),
                        entry("rice", 0.7, "grain", "tea", "similar")]),
    RecRow("I#rice", V, [entry("tea", 0.9, "drinks", "rice", "similar"),
                         entry("milk", 0.5, "dairy", "rice", "similar")]),
]


def service(rows: list[RecRow] = ROWS, recent: bool = True,
            ) -> tuple[RecommendationService, MemoryServingReader]:
    realtime = MemoryRealtimeStore()
    if recent:
        realtime.record("U#u", [("rice", "purchase", NOW), ("tea", "view", NOW + 1)], [], NOW)
    config = ServingConfig(new_arrival_share=0, long_tail_share=0, max_per_category=10)
    answer, _, reader = live_service(rows, config, realtime)
    return answer, reader


def items(exclude: str, recent: bool = True, rows: list[RecRow] = ROWS) -> list[str]:
    answer = service(rows, recent)[0].for_user("u", None, 10, exclude=exclude)
    return [item.item_id for item in answer.items]


def test_purchased_is_the_default_and_drops_only_what_was_bought() -> None:
    default = service()[0].for_user("u", None, 10)
    assert [i.item_id for i in default.items] == items("purchased")
    assert "rice" not in items("purchased")
    assert {"tea", "lamb"} <= set(items("purchased"))  # viewed and long-ago items stay


def test_seen_drops_recent_and_nightly_items_from_every_tier() -> None:
    listed = items("seen")
    assert not {"rice", "tea", "lamb"} & set(listed)
    assert listed == ["milk", "coffee", "bread"]  # session, then personalised, then trending


def test_seen_reads_the_history_in_the_same_round_trip() -> None:
    recommendations, reader = service(recent=False)
    recommendations.for_user("u", None, 10, exclude="seen")
    assert reader.round_trips == 1


def test_seen_without_recent_events_still_drops_the_nightly_history() -> None:
    assert items("seen", recent=False) == ["milk", "coffee", "bread"]


def test_seen_falls_back_to_the_repeats_of_a_row_written_without_a_history() -> None:
    """A row exported before rows carried a history: its repeats still name the shopper's
    items, so they are left out."""
    rows = [ROWS[0], RecRow("U#u", V, ROWS[1].items), *ROWS[2:]]
    assert items("seen", recent=False) == ["milk", "coffee", "bread"]  # with a history
    assert items("seen", recent=False, rows=rows) == ["milk", "coffee", "lamb", "bread", "tea"]


def test_none_drops_nothing_of_the_shoppers() -> None:
    listed = items("none")
    assert {"rice", "tea", "lamb"} <= set(listed)
    # The session tier may offer its own items as neighbours of the others: rice, bought,
    # is a neighbour of tea, viewed.
    answer = service()[0].for_user("u", None, 10, exclude="none")
    assert {i.item_id for i in answer.items if i.tier == "session"} >= {"rice", "tea"}


def test_unavailable_items_are_dropped_whatever_the_exclusion() -> None:
    recommendations, reader = service()
    reader.realtime.update_catalog({"milk"}, set(), [])
    for exclude in ("purchased", "seen", "none"):
        answer = recommendations.for_user("u", None, 10, exclude=exclude)
        assert "milk" not in [i.item_id for i in answer.items]


def test_an_unknown_exclusion_is_refused() -> None:
    with pytest.raises(ValueError, match="exclude"):
        service()[0].for_user("u", None, 10, exclude="bought")


def test_the_parameter_takes_its_three_values_and_names_a_bad_one() -> None:
    route = next(r for r in ROUTES if r.key == "GET /recommendations")
    assert EXCLUDE in route.params
    assert parse([EXCLUDE], {})["exclude"] == "purchased"
    for value in ("purchased", "seen", "none"):
        assert parse([EXCLUDE], {"exclude": value})["exclude"] == value
    with pytest.raises(ParameterError) as refused:
        parse([EXCLUDE], {"exclude": "Seen"})
    assert "exclude" in str(refused.value) and "purchased, seen, none" in str(refused.value)


def test_openapi_lists_the_values() -> None:
    schema = EXCLUDE.schema()
    assert schema["schema"] == {"type": "string", "enum": ["purchased", "seen", "none"],
                                "default": "purchased"}
    json.dumps(schema)  # plain JSON
