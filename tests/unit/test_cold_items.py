"""A new catalog item, which no shopper has touched, still has "similar items": its most
alike available catalog items by title and category, until a night trains on it."""

from __future__ import annotations

import pyarrow as pa

from recs.batch.cold_items import content_rows, new_items
from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.steps.export import export_rows, row_keys
from recs.batch.training import train
from recs.batch.weighting import DAY_MS, weight_events
from recs.contracts.keys import CONTENT_EVENT, Entry
from tests.unit.serving_stack import live_service

AS_OF = 1_795_000_000_000
V = "20261130-cold"
# [category, title, available], as the weight step's snapshot holds each item.
CATALOG = {
    "lantern-s": ["home/lighting", "Red Lantern Small", True],
    "lamp": ["home/lighting", "Desk Lamp", True],
    "rice": ["food/grains", "Basmati Rice 1kg", True],
    "lantern-l": ["home/lighting", "Red Lantern Large", True],  # new
    "rice-5": ["food/grains", "Basmati Rice 5kg", True],  # new
    "lantern-gone": ["home/lighting", "Red Lantern Medium", False],  # new, not for sale
    "blank": [None, None, True],  # new, nothing to compare
}


def trained_model() -> Model:
    shop = [("A", "lantern-s"), ("A", "lamp"), ("B", "rice"), ("B", "lamp"), ("C", "rice")]
    table = pa.table({
        "event_id": [f"e{n}" for n in range(len(shop))],
        "user_id": [u for u, _ in shop], "session_id": pa.nulls(len(shop), pa.string()),
        "item_id": [i for _, i in shop], "event_type": ["purchase"] * len(shop),
        "ts": pa.array([AS_OF - DAY_MS + n for n in range(len(shop))],
                       pa.timestamp("ms", tz="UTC")),
        "category": [CATALOG[i][0] for _, i in shop]})
    config = BatchConfig(tuning_seconds=0)
    return train(weight_events(table, config, AS_OF), config)


def test_new_items_are_the_available_catalog_items_the_model_never_saw() -> None:
    assert new_items(["lantern-s", "lamp", "rice"], CATALOG) == ["blank", "lantern-l", "rice-5"]


def test_a_new_item_is_most_alike_the_items_sharing_its_words_and_category() -> None:
    rows = {row.key: row for row in content_rows(["lantern-s", "lamp", "rice"], CATALOG, V, 5)}
    assert set(rows) == {"I#lantern-l", "I#rice-5"}  # "blank" has nothing to compare
    lantern = [Entry(*entry) for entry in rows["I#lantern-l"].items]
    assert [e.item for e in lantern] == ["lantern-s", "lamp"]  # words and category, category
    assert lantern[0].score > lantern[1].score > 0
    assert all(e.because == "lantern-l" and e.event == CONTENT_EVENT
               and e.because_title == "Red Lantern Large" for e in lantern)
    # The other new item counts as a neighbour too; the unavailable one never does.
    assert [Entry(*e).item for e in rows["I#rice-5"].items] == ["rice"]
    assert all(Entry(*e).item != "lantern-gone" for row in rows.values() for e in row.items)


def test_the_export_writes_them_after_the_models_rows_and_registers_their_keys() -> None:
    model = trained_model()
    rows = list(export_rows(model, V, 0, CATALOG))
    assert [row.key for row in rows[-2:]] == ["I#lantern-l", "I#rice-5"]
    assert {"I#lantern-l", "I#rice-5"} <= set(row_keys(model, CATALOG))
    assert not any(row.key == "I#lantern-s" and CONTENT_EVENT in str(row.items) for row in rows)


def test_a_new_items_page_says_similar_not_that_customers_bought_both() -> None:
    service = live_service(export_rows(trained_model(), V, 0, CATALOG), live=V)[0]
    answer = service.similar("lantern-l", 2)
    assert [i.item_id for i in answer.items] == ["lantern-s", "lamp"]
    assert answer.items[0].reason == "Similar to Red Lantern Large"
    assert answer.tiers == ["similar"]
    trained = service.similar("lantern-s", 1)  # a trained item keeps the shoppers' reason
    assert trained.items[0].reason.startswith("Customers who liked")
