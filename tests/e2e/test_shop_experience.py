"""Issue 4, tried through `make demo`'s HTTP API as a new shopper and a shop would."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recs.serving.settings import ServingConfig
from tests.e2e.conftest import demo_server, request

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with demo_server("--users", "200", "--simulate", "0") as url:
        yield url


def now_event(who: dict[str, str], item: str, kind: str, seconds_ago: int = 0) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {"event_id": str(uuid.uuid4()), **who, "item_id": item, "event_type": kind,
            "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def recommendations(shop: str, **query: Any) -> dict[str, Any]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    status, answer = request(f"{shop}/recommendations?{params}")
    assert status == 200, answer
    return answer


def test_a_new_session_viewing_two_items_gets_their_neighbours_at_once(shop: str) -> None:
    who = {"session_id": f"visitor-{uuid.uuid4().hex[:8]}"}
    events = [now_event(who, "pixel-phone", "view", 30),
              now_event(who, "canon-eos-r50", "view", 10)]
    assert request(f"{shop}/events", "POST", {"events": events})[0] == 200
    answer = recommendations(shop, session_id=who["session_id"], num_items=10)
    session = [i for i in answer["items"] if i["tier"] == "session"]
    assert session, answer
    neighbours = {i["item_id"] for item in ("pixel-phone", "canon-eos-r50")
                  for i in request(f"{shop}/items/{item}/similar?num_items=50")[1]["items"]
                  if i["tier"] == "similar"}
    assert {i["item_id"] for i in session} <= neighbours
    assert {i["reason"] for i in session} <= {"Because you viewed Pixel Phone",
                                              "Because you viewed Canon EOS R50"}
    assert not {"pixel-phone", "canon-eos-r50"} & {i["item_id"] for i in answer["items"]}


def test_a_shopper_who_buys_an_item_no_longer_sees_it(shop: str) -> None:
    user = "user-0007"
    before = recommendations(shop, user_id=user, num_items=10)["items"]
    bought = before[0]["item_id"]
    assert request(f"{shop}/events", "POST",
                   {"events": [now_event({"user_id": user}, bought, "purchase")]})[0] == 200
    after = recommendations(shop, user_id=user, num_items=10)["items"]
    assert bought not in {i["item_id"] for i in after}


def test_an_unavailable_item_disappears_from_every_list(shop: str) -> None:
    top = request(f"{shop}/recommendations/trending?num_items=1")[1]["items"][0]["item_id"]
    status, answer = request(f"{shop}/items", "PUT",
                             {"items": [{"item_id": top, "available": False}]})
    assert (status, answer["accepted"]) == (200, 1)
    lists = [request(f"{shop}/recommendations/trending?num_items=50")[1]]
    lists += [recommendations(shop, user_id=f"user-{n:04d}", num_items=20) for n in range(20)]
    lists += [request(f"{shop}/items/{i}/similar?num_items=50")[1]
              for i in ("rice", "milk", "pixel-phone", "chef-knife")]
    for answer in lists:
        assert top not in {i["item_id"] for i in answer["items"]}


def test_no_list_of_ten_has_more_than_the_cap_from_one_category(shop: str) -> None:
    cap = ServingConfig().max_per_category
    for n in range(40):
        items = recommendations(shop, user_id=f"user-{n:04d}", num_items=10)["items"]
        counts = Counter(i["category"] for i in items if i["category"])
        assert max(counts.values(), default=0) <= cap, items


def test_a_new_catalog_item_appears_in_the_new_arrival_slots(shop: str) -> None:
    item = {"item_id": "robot-vacuum", "title": "Robot Vacuum", "category": "home/kitchen",
            "price": 299.0, "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    assert request(f"{shop}/items", "PUT", {"items": [item]})[0] == 200
    answer = recommendations(shop, user_id="someone-new", category="home", num_items=10)
    arrivals = [i for i in answer["items"] if i["tier"] == "new_arrival"]
    assert "robot-vacuum" in {i["item_id"] for i in arrivals}
    assert arrivals[0]["reason"].startswith("New in")


def test_a_request_without_the_api_key_is_refused(shop: str) -> None:
    assert request(f"{shop}/recommendations?user_id=user-0001", key=None)[0] == 403
    assert request(f"{shop}/items", "PUT", {"items": [{"item_id": "x"}]}, key=None)[0] == 403


def test_reasons_use_catalog_titles(shop: str) -> None:
    items = recommendations(shop, user_id="user-0003", num_items=10)["items"]
    personal = [i for i in items if i["tier"] in ("session", "personalised")]
    assert personal and all(i["title"] for i in personal)
    assert not any("-" in i["reason"].split("Because you ")[-1] for i in personal
                   if i["reason"].startswith("Because you viewed"))
