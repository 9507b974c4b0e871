"""The item catalog contract (docs/architecture.md) and the catalog changes it implies.

Items arrive by ``PUT /items`` (batches of up to 500) or ``recs import-catalog`` for the
first load. Every accepted batch is appended to S3 as a JSON-lines delta that the nightly
batch folds into a snapshot (latest ``updated_at`` wins), and the two things the read path
must know at once — which items are unavailable, which are new — are updated in the
realtime table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recs.contracts.items import Item
from recs.contracts.keys import NewArrival
from recs.exceptions import ValidationError
from recs.formats.catalog_deltas import delta_key, encode_delta
from recs.intake.validation import (
    echo_id,
    field_name,
    json_object_field,
    price_field,
    text_field,
    time_field,
)
from recs.stores.ports import ObjectStore, RealtimeStore

MAX_ITEMS = 500
NEW_ARRIVAL_DAYS = 30
MAX_ATTRIBUTES_BYTES = 4096
_FIELDS = frozenset({"item_id", "category", "title", "price", "available", "created_at",
                     "attributes"})


def validate_item(raw: Any, now_ms: int) -> Item:
    """Normalise one catalog item or raise ``ValidationError`` naming the field.

    Like events (``recs.intake.validation``), an accepted item survives every later step: its
    text is valid Unicode, its attributes are shallow JSON with finite numbers, and its
    ``created_at`` lies between 2000-01-01 and five minutes from now, so a mistyped year
    cannot pin it to the top of the new arrivals.
    """
    if not isinstance(raw, dict):
        raise ValidationError("item", "must be a JSON object")
    unknown = raw.keys() - _FIELDS
    if unknown:
        raise ValidationError(field_name(sorted(unknown)[0]),
                              "is not a known item field (use attributes)")
    item_id = text_field(raw, "item_id", required=True, whole_numbers=True)
    category = text_field(raw, "category", required=False)
    if category is not None:
        category = "/".join(part.strip() for part in category.split("/") if part.strip())
        if not category:
            raise ValidationError("category", "must name a category path such as food/rice")
    title = text_field(raw, "title", required=False, limit=512)
    price = price_field(raw)
    available = raw.get("available")  # None: unchanged (new items count as available)
    if available is not None and not isinstance(available, bool):
        raise ValidationError("available", "must be true or false")
    created_at = raw.get("created_at")
    created_ms = time_field(created_at, "created_at", now_ms) if created_at is not None else None
    attributes_json = json_object_field(raw, "attributes", MAX_ATTRIBUTES_BYTES)
    return {
        "item_id": item_id,
        "category": category,
        "title": title,
        "price": price,
        "available": available,
        "created_at": created_ms,
        "attributes": attributes_json,
        "updated_at": now_ms,
    }


@dataclass
class CatalogRejection:
    index: int
    field: str
    reason: str
    item_id: str | None = None


@dataclass
class CatalogResult:
    accepted: list[Item] = field(default_factory=list)
    rejected: list[CatalogRejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "errors": [r.__dict__ for r in self.rejected],
        }


def validate_items(raw_items: list[Any], now_ms: int) -> CatalogResult:
    result = CatalogResult()
    latest: dict[str, Item] = {}
    for index, raw in enumerate(raw_items):
        try:
            item = validate_item(raw, now_ms)
        except ValidationError as exc:
            item_id = echo_id(raw.get("item_id")) if isinstance(raw, dict) else None
            result.rejected.append(CatalogRejection(index, exc.field, exc.reason, item_id))
            continue
        latest[item["item_id"]] = item  # a later copy of the same item in a batch wins
    result.accepted = list(latest.values())
    return result


def apply(items: list[Item], objects: ObjectStore, realtime: RealtimeStore, now_ms: int) -> str:
    """Record accepted items: the S3 delta first (the durable record), then serving's state.

    A batch that would grow the unavailable items past their bound is refused first
    (``StateLimitExceeded``, 413), before the delta is written, so it leaves no trace."""
    if not items:
        return ""
    unavailable = {i["item_id"] for i in items if i["available"] is False}
    available = {i["item_id"] for i in items if i["available"] is True}
    realtime.check_catalog(unavailable, available)
    key = delta_key(items, now_ms)
    objects.put(key, encode_delta(items))
    horizon = now_ms - NEW_ARRIVAL_DAYS * 86_400_000
    realtime.update_catalog(
        unavailable=unavailable,
        available=available,
        new_arrivals=[list(NewArrival(i["item_id"], i["created_at"], i["category"], i["title"]))
                      for i in items
                      if i["available"] is not False and i["created_at"]
                      and i["created_at"] >= horizon],
    )
    return key
