"""The catalog contract: validation by field, upserts that change only what they send."""

from __future__ import annotations

import pytest

from recs.exceptions import ValidationError
from recs.formats import catalog_deltas
from recs.intake import catalog
from recs.stores.memory import MemoryObjectStore, MemoryRealtimeStore

NOW = 1_795_000_000_000


def test_items_are_validated_and_errors_name_the_field() -> None:
    result = catalog.validate_items([
        {"item_id": "a", "title": "A", "category": "/food/dairy/", "price": 2},
        {"item_id": "b", "price": -1},
        {"title": "no id"},
        {"item_id": "c", "colour": "red"},
    ], NOW)
    assert [i["item_id"] for i in result.accepted] == ["a"]
    assert result.accepted[0]["category"] == "food/dairy"
    assert [(r.index, r.field) for r in result.rejected] == [(1, "price"), (2, "item_id"),
                                                           (3, "colour")]


def test_an_upsert_changes_only_the_fields_it_sends() -> None:
    first = catalog.validate_items([{"item_id": "a", "title": "Rice", "category": "food"}], 1)
    second = catalog.validate_items([{"item_id": "a", "available": False}], 2)
    merged = catalog_deltas.decode_deltas([catalog_deltas.encode_delta(second.accepted),
                                           catalog_deltas.encode_delta(first.accepted)])
    assert merged["a"]["title"] == "Rice" and merged["a"]["available"] is False


def test_applying_items_records_a_delta_and_updates_serving_state() -> None:
    objects, realtime = MemoryObjectStore(), MemoryRealtimeStore()
    items = catalog.validate_items([
        {"item_id": "new", "title": "New", "created_at": NOW - 1000},
        {"item_id": "old", "created_at": NOW - 90 * 86_400_000},
        {"item_id": "gone", "available": False},
    ], NOW).accepted
    key = catalog.apply(items, objects, realtime, NOW)
    assert key.startswith("catalog/updates/") and objects.get(key)
    assert realtime.catalog.unavailable == {"gone"}
    assert [a[0] for a in realtime.catalog.new_arrivals] == ["new"]


def test_available_must_be_a_boolean() -> None:
    with pytest.raises(ValidationError) as caught:
        catalog.validate_item({"item_id": "a", "available": "nope"}, NOW)
    assert caught.value.field == "available"
