"""The catalog-item contract: what ``PUT /items`` accepts and the nightly batch trains with.

``recs.intake.catalog.validate_item`` produces an ``Item``; ``recs.formats.catalog_deltas``
stores items as JSON lines and folds them into ``CatalogRecord`` s; the weight step keeps
the three facts training and export need as ``ItemFacts``.
"""

from __future__ import annotations

from typing import NamedTuple, TypedDict


class Item(TypedDict):
    """One validated catalog upsert. Every field is present; None means "not sent", which
    leaves the item's stored value as it was."""

    item_id: str
    category: str | None  # a path like "food/dairy", slashes trimmed
    title: str | None
    price: float | None
    available: bool | None
    created_at: int | None  # epoch ms
    attributes: str | None  # the shop's attributes object as compact JSON text
    updated_at: int  # epoch ms when accepted: the later upsert wins


class CatalogRecord(TypedDict, total=False):
    """An item as the deltas fold it: each field the latest value any upsert sent (never
    None), ``available`` True until an upsert says otherwise."""

    item_id: str
    category: str
    title: str
    price: float
    available: bool
    created_at: int
    attributes: str
    updated_at: int


class ItemFacts(NamedTuple):
    """What the batch keeps of an item (``interactions/<version>/catalog.json`` maps each
    item id to these, as a JSON list)."""

    category: str | None
    title: str | None
    available: bool


# Positions in the JSON form, for readers that keep the decoded lists.
FACT_CATEGORY, FACT_TITLE, FACT_AVAILABLE = (
    ItemFacts._fields.index(name) for name in ("category", "title", "available"))
