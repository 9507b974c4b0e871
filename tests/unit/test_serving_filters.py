"""Serving a shop can put in front of customers: session tier, filters, diversity, new items."""

from __future__ import annotations

from collections import Counter

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
          event: str = "view") -> list:
    return [item, score, because, event, category, item.title(), (because or "").title()]


def setup(rows: list[RecRow], config: ServingConfig | None = None,
          ) -> tuple[RecommendationService, MemoryRealtimeStore, MemoryServingReader]:
    return live_service(rows, config)


TRENDING = RecRow("POP#global", V, [entry(f"pop{n}", 10 - n, f"cat{n % 5}") for n in range(10)])
NEIGHBOURS = [
    RecRow("I#camera", V, [entry("lens", 0.9, "photo", "camera"),
                           entry("tripod", 0.5, "photo", "camera")]),
    RecRow("I#phone", V, [entry("case", 0.8, "phone", "phone"),
                          entry("charger", 0.6, "phone", "phone")]),
]


def test_a_brand_new_session_is_personalised_by_its_last_views_in_two_round_trips() -> None:
    service, realtime, reader = setup([TRENDING, *NEIGHBOURS])
    realtime.record("S#new", [("camera", "view", NOW), ("phone", "view", NOW + 1)], [], NOW)
    result = service.for_user(None, "new", 10)
    session = [i for i in result.items if i.tier == "session"]
    assert {i.item_id for i in session} == {"lens", "tripod", "case", "charger"}
    assert session[0].item_id == "case"  # the newest view weighs more
    assert session[0].reason == "Because you viewed Phone"
    assert reader.round_trips == 2
    assert result.tiers == ["session", "trending"]


def test_a_shopper_without_recent_events_costs_one_round_trip() -> None:
    service, _, reader = setup([TRENDING])
    service.for_user("nobody", None, 10)
    assert reader.round_trips == 1


def test_bought_items_are_dropped_except_in_repeat_purchase_categories() -> None:
    rows = [TRENDING, RecRow("U#u", V, [entry("coffee", 2, "groceries/coffee", "mug"),
                                        entry("mug", 1, "kitchen", "coffee")])]
    config = ServingConfig(new_arrival_share=0, repeat_purchase_categories=("groceries",))
    service, realtime, _ = setup(rows, config)
    realtime.record("U#u", [("coffee", "purchase", NOW), ("mug", "purchase", NOW)], [], NOW)
    items = {i.item_id for i in service.for_user("u", None, 10).items}
    assert "coffee" in items and "mug" not in items


def test_unavailable_items_disappear_from_every_list() -> None:
    service, realtime, _ = setup([TRENDING, *NEIGHBOURS])
    realtime.update_catalog({"pop0", "lens"}, set(), [])
    assert "pop0" not in {i.item_id for i in service.trending(None, 10).items}
    assert "lens" not in {i.item_id for i in service.similar("camera", 10).items}
    assert "pop0" not in {i.item_id for i in service.for_user("x", None, 10).items}
    realtime.update_catalog(set(), {"pop0"}, [])
    assert "pop0" in {i.item_id for i in service.trending(None, 10).items}


def test_items_shown_many_times_without_engagement_are_dropped() -> None:
    service, realtime, _ = setup([TRENDING], ServingConfig(new_arrival_share=0,
                                                           max_impressions=3))
    realtime.record("U#u", [], ["pop0"] * 3 + ["pop1"] * 3, NOW)
    realtime.record("U#u", [("pop1", "click", NOW)], [], NOW)
    items = {i.item_id for i in service.for_user("u", None, 10).items}
    assert "pop0" not in items and "pop1" in items


def test_an_impression_sent_with_both_ids_counts_once() -> None:
    # Ingest appends an event with a user id and a session id to both shoppers' states.
    service, realtime, _ = setup([TRENDING], ServingConfig(new_arrival_share=0,
                                                           max_impressions=3))
    for key in ("U#u", "S#s"):
        realtime.record(key, [], ["pop0", "pop0"], NOW)
    assert "pop0" in {i.item_id for i in service.for_user("u", "s", 10).items}
    realtime.record("S#s", [], ["pop0"], NOW)  # a third, in this session only
    assert "pop0" not in {i.item_id for i in service.for_user("u", "s", 10).items}


def test_an_event_sent_with_both_ids_weighs_once_in_the_session_tier() -> None:
    rows = [RecRow("I#a", V, [entry("b", 0.9, "c1", "a", "similar")]),
            RecRow("I#z", V, [entry("y", 0.9, "c2", "z", "similar")])]
    service, realtime, _ = setup(rows, ServingConfig(new_arrival_share=0, session_decay=0.5))
    older, newer = ("a", "view", NOW - 1000), ("z", "view", NOW)
    for key in ("U#u", "S#s"):
        realtime.record(key, [older, newer], [], NOW)
    scores = {i.item_id: i.score for i in service.for_user("u", "s", 10).items}
    # The newest event weighs 1, the one before it 0.5: duplicates would decay it to 0.25.
    assert scores["y"] == 0.9 and scores["b"] == 0.45


def test_no_category_fills_more_than_its_cap() -> None:
    rows = [RecRow("POP#global", V, [entry(f"i{n}", 20 - n, "same" if n < 8 else f"c{n}")
                                     for n in range(20)])]
    service, _, _ = setup(rows, ServingConfig(new_arrival_share=0, max_per_category=3))
    items = service.for_user("x", None, 10).items
    assert Counter(i.category for i in items)["same"] == 3


def test_new_arrivals_get_their_share_of_the_slots_after_the_ranked_items() -> None:
    service, realtime, _ = setup([TRENDING], ServingConfig(new_arrival_share=0.2))
    realtime.update_catalog(set(), set(), [["fresh1", NOW, "cat1", "Fresh One"],
                                           ["fresh2", NOW - 1, "cat2", "Fresh Two"],
                                           ["fresh3", NOW - 2, "cat3", "Fresh Three"]])
    items = service.for_user("x", None, 10).items
    assert [i.item_id for i in items[-2:]] == ["fresh1", "fresh2"]
    assert items[-1].tier == "new_arrival" and items[-1].reason == "New in cat2"


def test_a_category_request_keeps_to_the_category_and_its_children() -> None:
    rows = [TRENDING, RecRow("U#u", V, [entry("a", 3, "food/dairy", "b"),
                                        entry("b", 2, "toys", "a")])]
    service, _, _ = setup(rows)
    items = service.for_user("u", None, 10, category="food").items
    assert [i.item_id for i in items] == ["a"]


def test_each_item_carries_an_attribution_id_naming_its_tier() -> None:
    service, _, _ = setup([TRENDING])
    result = service.for_user("x", None, 3)
    assert all(i.recommendation_id == f"{result.recommendation_id}.trending"
               for i in result.items)


def test_a_relevant_but_less_popular_item_gets_the_long_tail_slot() -> None:
    personal = [entry(f"p{n}", 20 - n, f"cat{n}", "seed", "purchase") for n in range(15)]
    personal[12][0] = "niche"  # ranked below the list's reach, and no bestseller
    rows = [RecRow("POP#global", V, [entry(f"p{n}", 9, "x") for n in range(15) if n != 12]),
            RecRow("U#u", V, personal)]
    service, _, _ = setup(rows, ServingConfig(new_arrival_share=0, long_tail_share=0.1))
    items = service.for_user("u", None, 10).items
    assert items[-1].item_id == "niche" and items[-1].tier == "long_tail"
    assert [i.item_id for i in items[:9]] == [f"p{n}" for n in range(9)]


def test_an_item_that_is_its_own_reason_says_buy_it_again() -> None:
    rows = [RecRow("U#u", V, [entry("milk", 3, "groceries", "milk", "purchase"),
                              entry("tea", 2, "groceries", "milk", "purchase")])]
    service, _, _ = setup(rows)
    items = service.for_user("u", None, 2).items
    assert [i.reason for i in items] == ["Buy it again", "Because you bought Milk"]
