"""Simulated shoppers for the demo: they look at what the API recommends and act on it.

Each shopper has tastes (the categories of their own history); shown an item of a category
they like, they click it far more often than another, and some clicks go on to the cart and
a purchase. Every event echoes the item's ``recommendation_id``, as a storefront would, so
an experiment on the demo shows real, different numbers for a personalised variant and a
non-personalised one without anyone scripting the outcome.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

# (status, decoded JSON body) of one request: HTTP against the demo, or in-process in tests.
Client = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]


@dataclass(frozen=True)
class Behaviour:
    """How likely a shopper is to act on a shown item."""

    click_if_liked: float = 0.30  # the item's top-level category is one they like
    click_otherwise: float = 0.03
    cart_after_click: float = 0.35
    purchase_after_cart: float = 0.6


@dataclass
class Report:
    """What the simulation did, for the demo's output."""

    shoppers: int = 0
    lists: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejected: int = 0


def tastes(events: Iterable[Mapping[str, Any]], top: int = 2) -> dict[str, frozenset[str]]:
    """Each user's favourite top-level categories: those of most of their events."""
    counts: dict[str, Counter[str]] = {}
    for event in events:
        user, category = event.get("user_id"), event.get("category")
        if user and category:
            counts.setdefault(str(user), Counter())[str(category).split("/")[0]] += 1
    return {user: frozenset(c for c, _ in counter.most_common(top))
            for user, counter in counts.items()}


def simulate(client: Client, shoppers: Mapping[str, frozenset[str]],
             prices: Mapping[str, float], behaviour: Behaviour | None = None, seed: int = 11,
             num_items: int = 10, now: datetime | None = None) -> Report:
    """Each shopper asks for recommendations once and acts on them; events are posted."""
    behaviour = behaviour or Behaviour()
    rng = random.Random(seed)
    report = Report()
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    for user in sorted(shoppers):
        status, body = client("GET", f"/recommendations?user_id={quote(user)}"
                                     f"&num_items={num_items}", None)
        report.shoppers += 1
        if status != 200:
            continue
        report.lists += 1
        session = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        events: list[dict[str, Any]] = []

        def emit(item: Mapping[str, Any], kind: str, user: str = user,
                 session: str = session, events: list[dict[str, Any]] = events,
                 **extra: Any) -> None:
            events.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                           "user_id": user, "session_id": session, "item_id": item["item_id"],
                           "event_type": kind, "timestamp": stamp,
                           "recommendation_id": item["recommendation_id"], **extra})

        for item in body.get("items", []):
            emit(item, "impression")
            liked = (item.get("category") or "").split("/")[0] in shoppers[user]
            if rng.random() >= (behaviour.click_if_liked if liked
                                else behaviour.click_otherwise):
                continue
            emit(item, "click")
            if rng.random() < behaviour.cart_after_click:
                emit(item, "cart")
                if rng.random() < behaviour.purchase_after_cart:
                    emit(item, "purchase", quantity=1,
                         price=prices.get(str(item["item_id"]), 10.0))
        if events:
            status, answer = client("POST", "/events", {"events": events})
            report.events.update(e["event_type"] for e in events)
            report.rejected += int(answer.get("rejected", 0)) if isinstance(answer, dict) else 0
    return report


def http_client(base_url: str, api_key: str | None = None, timeout: float = 10.0) -> Client:
    """A client for the local server (or a deployed API's URL)."""

    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if api_key:
            request.add_header("x-api-key", api_key)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    return call
