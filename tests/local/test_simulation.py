"""Simulated shoppers act on what they are shown: more on what they like, echoing the ids."""

from __future__ import annotations

from typing import Any

from recs_local.simulation import Behaviour, simulate, tastes


class ScriptedApi:
    """Answers every shopper with the same ten items of one category and keeps the events."""

    def __init__(self, category: str) -> None:
        self.category = category
        self.posted: list[dict[str, Any]] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if method == "GET":
            items = [{"item_id": f"i{n}", "category": f"{self.category}/x",
                      "recommendation_id": "r.v.personalised"} for n in range(10)]
            return 200, {"items": items}
        assert body is not None
        self.posted.extend(body["events"])
        return 200, {"accepted": len(body["events"]), "rejected": 0}


def test_tastes_are_the_top_level_categories_of_a_users_history() -> None:
    events = [{"user_id": "u", "category": "books/novels"}] * 3 + [
        {"user_id": "u", "category": "books/guides"},
        {"user_id": "u", "category": "home/kitchen"},
        {"user_id": "v", "category": "electronics/phones"}]
    assert tastes(events, top=1) == {"u": frozenset({"books"}), "v": frozenset({"electronics"})}


def test_shoppers_click_what_they_like_ten_times_as_often() -> None:
    shoppers = {f"user-{n}": frozenset({"books"}) for n in range(400)}
    liked, other = ScriptedApi("books"), ScriptedApi("garden")
    simulate(liked, shoppers, {"i1": 12.5}, seed=1)
    simulate(other, shoppers, {"i1": 12.5}, seed=1)

    def clicks(api: ScriptedApi) -> int:
        return sum(e["event_type"] == "click" for e in api.posted)

    assert 0.25 < clicks(liked) / 4000 < 0.35  # 30 % of 4,000 shown items
    assert 0.015 < clicks(other) / 4000 < 0.045  # 3 %
    assert sum(e["event_type"] == "impression" for e in liked.posted) == 4000


def test_every_event_echoes_the_recommendation_and_purchases_carry_a_price() -> None:
    api = ScriptedApi("books")
    report = simulate(api, {"u": frozenset({"books"})},
                      {f"i{n}": 5.0 for n in range(10)},
                      Behaviour(click_if_liked=1.0, cart_after_click=1.0,
                                purchase_after_cart=1.0))
    assert report.events == {"impression": 10, "click": 10, "cart": 10, "purchase": 10}
    assert {e["recommendation_id"] for e in api.posted} == {"r.v.personalised"}
    purchases = [e for e in api.posted if e["event_type"] == "purchase"]
    assert all(e["price"] == 5.0 and e["quantity"] == 1 for e in purchases)
    assert len({e["event_id"] for e in api.posted}) == 40
