"""A seeded generator of realistic shop behaviour for the demo and the tests.

Shoppers have a favourite category or two, item popularity within a category is Zipf-like
(a few bestsellers, a long tail), and every visit runs the view -> cart -> purchase funnel.
Some pairs of items are complements (bought together), so item-item CF has something real
to find.
"""

from __future__ import annotations

import csv
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CATALOG: dict[str, list[str]] = {
    "groceries/staples": ["Rice", "Pasta", "Flour", "Olive Oil", "Lentils", "Oats", "Sugar",
                          "Salt", "Quinoa", "Couscous"],
    "groceries/dairy": ["Milk", "Butter", "Yoghurt", "Cheddar", "Eggs", "Cream", "Feta"],
    "groceries/meat": ["Lamb", "Chicken", "Beef Mince", "Salmon", "Bacon", "Sausages"],
    "electronics/phones": ["Pixel Phone", "Galaxy Phone", "Phone Case", "Screen Protector",
                           "USB-C Charger", "Wireless Earbuds"],
    "electronics/cameras": ["Canon EOS R50", "SD Card 128GB", "Camera Bag", "Tripod",
                            "Spare Battery"],
    "home/kitchen": ["Chef Knife", "Cutting Board", "Frying Pan", "Kettle", "Coffee Grinder",
                     "French Press", "Mixing Bowls", "Toaster"],
    "books": ["Cookbook", "Travel Guide", "Mystery Novel", "Sci-Fi Novel", "Photography Guide"],
}

# Items that are bought together: buying the first makes the second likely in the same visit.
COMPLEMENTS = {
    "Pixel Phone": ["Phone Case", "Screen Protector", "USB-C Charger"],
    "Galaxy Phone": ["Phone Case", "Screen Protector"],
    "Canon EOS R50": ["SD Card 128GB", "Camera Bag", "Spare Battery", "Photography Guide"],
    "Rice": ["Lentils", "Lamb"],
    "Pasta": ["Olive Oil", "Cheddar"],
    "Coffee Grinder": ["French Press"],
    "Chef Knife": ["Cutting Board"],
    "Flour": ["Butter", "Eggs", "Sugar"],
}


# Items just added to the shop: no one has seen them yet, so only new-arrival slots show them.
NEW_ITEMS = {
    "Fold Phone": "electronics/phones",
    "50mm Prime Lens": "electronics/cameras",
    "Sourdough Starter": "groceries/staples",
}


def is_consumable(category: str) -> bool:
    """Groceries are bought again and again; phones, cameras, pans and books are not."""
    return category.startswith("groceries")


def item_id(title: str) -> str:
    return title.lower().replace(" ", "-")


@dataclass(frozen=True)
class SampleItem:
    item_id: str
    title: str
    category: str


def catalog() -> list[SampleItem]:
    return [SampleItem(item_id(t), t, c) for c, titles in CATALOG.items() for t in titles]


def catalog_items(now: datetime | None = None) -> list[dict[str, Any]]:
    """The sample shop's catalog as ``PUT /items`` takes it, with a few brand-new items."""
    now = now or datetime.now(UTC)
    items: list[dict[str, Any]] = []
    for number, item in enumerate(catalog()):
        items.append({
            "item_id": item.item_id, "title": item.title, "category": item.category,
            "price": round(2.5 + (number * 7.3) % 90, 2), "available": True,
            "created_at": (now - timedelta(days=120 + number)).isoformat(timespec="seconds"),
        })
    for age, (title, category) in enumerate(NEW_ITEMS.items(), start=1):
        items.append({
            "item_id": item_id(title), "title": title, "category": category,
            "price": 49.0 + age, "available": True,
            "created_at": (now - timedelta(days=age)).isoformat(timespec="seconds"),
        })
    return items


def generate(
    users: int = 400, days: int = 28, seed: int = 7, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Events as ingest expects them (JSON-ready dicts), oldest first."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(days=days)
    items = catalog()
    by_category: dict[str, list[SampleItem]] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
    titles = {item.title: item for item in items}
    categories = list(by_category)
    events: list[dict[str, Any]] = []

    def emit(user: str, session: str, item: SampleItem, kind: str, at: datetime) -> None:
        events.append({
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "user_id": user,
            "session_id": session,
            "item_id": item.item_id,
            "event_type": kind,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "category": item.category,
        })

    for number in range(users):
        user = f"user-{number:04d}"
        bought: list[SampleItem] = []
        favourites = rng.sample(categories, k=rng.choice((1, 1, 2)))
        for _ in range(max(1, int(rng.expovariate(1 / 4)))):
            at = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds() - 3600))
            session = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
            category = rng.choice(favourites) if rng.random() < 0.85 else rng.choice(categories)
            pool = by_category[category]
            weights = [1 / (rank + 1) ** 1.1 for rank in range(len(pool))]
            visit = list(_visit(rng, pool, weights))
            staples = [i for i in bought if is_consumable(i.category)]
            if staples and rng.random() < 0.5:  # groceries run out: buy some of them again
                visit = rng.sample(staples, k=min(len(staples), 2)) + visit
            for item in visit:
                at += timedelta(seconds=rng.randint(10, 240))
                emit(user, session, item, "view", at)
                owned = item in bought and not is_consumable(item.category)
                if rng.random() < 0.3 and not owned:  # nobody buys the same phone twice
                    at += timedelta(seconds=rng.randint(5, 60))
                    emit(user, session, item, "cart", at)
                    if rng.random() < 0.6:
                        at += timedelta(seconds=rng.randint(30, 300))
                        emit(user, session, item, "purchase", at)
                        bought.append(item)
                        for title in COMPLEMENTS.get(item.title, []):
                            extra = titles[title]
                            if rng.random() < 0.5 and extra not in bought:
                                at += timedelta(seconds=rng.randint(10, 120))
                                emit(user, session, extra, "view", at)
                                at += timedelta(seconds=rng.randint(5, 60))
                                emit(user, session, extra, "purchase", at)
                                bought.append(extra)
    events.sort(key=lambda e: e["timestamp"])
    return events


def _visit(
    rng: random.Random, pool: list[SampleItem], weights: list[float]
) -> Iterator[SampleItem]:
    seen: set[str] = set()
    for _ in range(rng.randint(1, 5)):
        item = rng.choices(pool, weights=weights)[0]
        if item.item_id not in seen:
            seen.add(item.item_id)
            yield item


CSV_COLUMNS = ("user_id", "item_id", "event_type", "timestamp")
CSV_OPTIONAL = ("category", "event_id", "session_id")


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Events from a CSV with ``user_id,item_id,event_type,timestamp`` (+ optional columns).

    ``timestamp`` is ISO-8601, epoch milliseconds, or epoch seconds (10 digits, as most
    public datasets have it). Rows without ``event_id`` get a stable one derived from the
    row, so loading the same file twice does not double-count.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing CSV columns {missing}; need {list(CSV_COLUMNS)}")
        events = []
        for number, row in enumerate(reader, start=2):
            ts: Any = row["timestamp"].strip()
            if ts.isdigit():
                ts = int(ts) * 1000 if len(ts) <= 10 else int(ts)
            event: dict[str, Any] = {
                "event_id": row.get("event_id") or str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"{path.name}:{number}:{sorted(row.items())}")
                ),
                "user_id": row["user_id"],
                "item_id": row["item_id"],
                "event_type": row["event_type"],
                "timestamp": ts,
            }
            for column in ("category", "session_id"):
                if row.get(column):
                    event[column] = row[column]
            events.append(event)
    return events


def write_csv(events: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*CSV_COLUMNS, *CSV_OPTIONAL],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(events)
