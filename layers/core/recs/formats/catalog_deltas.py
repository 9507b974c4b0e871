"""Catalog changes as S3 objects: JSON-lines deltas that ingest appends and the batch folds.

``PUT /items`` writes each accepted batch as one delta; the nightly weight step folds every
delta into the catalog snapshot it trains with (latest ``updated_at`` wins).
"""

from __future__ import annotations

import hashlib
import json
from typing import cast

from recs.contracts import layout
from recs.contracts.items import CatalogRecord, Item


def delta_key(items: list[Item], now_ms: int) -> str:
    """``catalog/updates/<ms>-<hash>.jsonl``: sorts by time; the same batch maps to one key."""
    digest = hashlib.sha256(
        "\n".join(json.dumps(i, sort_keys=True) for i in items).encode()).hexdigest()[:12]
    return layout.catalog_delta(now_ms, digest)


def encode_delta(items: list[Item]) -> bytes:
    return ("\n".join(json.dumps(i, sort_keys=True, separators=(",", ":")) for i in items)
            + "\n").encode()


def decode_deltas(blobs: list[bytes]) -> dict[str, CatalogRecord]:
    """Fold deltas into the catalog: an upsert changes the fields it sends, later ones win."""
    updates: list[Item] = [json.loads(line) for blob in blobs
                           for line in blob.decode().splitlines() if line.strip()]
    catalog: dict[str, CatalogRecord] = {}
    for item in sorted(updates, key=lambda i: i.get("updated_at", 0)):
        current = catalog.setdefault(item["item_id"], {"available": True})
        # The fields an upsert sent are its fields that are not None.
        current.update(cast(CatalogRecord, {k: v for k, v in item.items() if v is not None}))
    return catalog
