"""CTR and conversion per model version and tier, from events that carry a recommendation id.

Impressions, clicks and purchases sent with an item's ``recommendation_id`` (as the API gave
it) land in the events Parquet like any other event; this reads them back and counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from recs.contracts.ids import parse_recommendation_id

Row = dict[str, Any]


def summarise(events: Iterable[Row]) -> list[Row]:
    """One row per (model version, tier): impressions, clicks, purchases, CTR, conversion."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"impression": 0, "click": 0, "purchase": 0})
    seen: set[tuple[str, str, str]] = set()
    for event in events:
        rid = event.get("recommendation_id")
        kind = event.get("event_type")
        if not rid or kind not in ("impression", "click", "purchase"):
            continue
        key = (rid, str(event.get("item_id")), str(kind))
        if key in seen:  # one impression / click / purchase per shown item
            continue
        seen.add(key)
        _, version, tier, _ = parse_recommendation_id(str(rid))
        counts[(version or "unknown", tier or "unknown")][str(kind)] += 1
    rows = []
    for (version, tier), c in sorted(counts.items()):
        rows.append({
            "model_version": version, "tier": tier, "impressions": c["impression"],
            "clicks": c["click"], "purchases": c["purchase"],
            "ctr": round(c["click"] / c["impression"], 4) if c["impression"] else None,
            "conversion": round(c["purchase"] / c["click"], 4) if c["click"] else None,
        })
    return rows
