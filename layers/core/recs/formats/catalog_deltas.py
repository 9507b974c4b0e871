"""Catalog changes as S3 objects: JSON-lines deltas that ingest appends and the batch folds.

``PUT /items`` writes each accepted batch as one delta; the nightly weight step folds every
delta into the catalog snapshot it trains with (latest ``updated_at`` wins).

Deltas have no window: every one is folded every night for ever. So a line that cannot be
used (not UTF-8, not JSON, not an item, or a string holding a lone surrogate, which JSON
can escape but DynamoDB and UTF-8 cannot carry) is left out and reported by ``fold``
instead of failing the fold, or one bad upsert accepted before intake refused such values
would stop every later nightly run.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any, cast

from recs.contracts import layout
from recs.contracts.items import CatalogRecord, Item
from recs.contracts.state import SkippedInput

# The fields the fold and the batch read, and the JSON types each may hold (None: not sent).
_TEXT = ("category", "title", "attributes")
_NUMBERS = ("price", "created_at", "updated_at")


def delta_key(items: list[Item], now_ms: int) -> str:
    """``catalog/updates/<ms>-<hash>.jsonl``: sorts by time; the same batch maps to one key."""
    digest = hashlib.sha256(
        "\n".join(json.dumps(i, sort_keys=True) for i in items).encode()).hexdigest()[:12]
    return layout.catalog_delta(now_ms, digest)


def encode_delta(items: list[Item]) -> bytes:
    return ("\n".join(json.dumps(i, sort_keys=True, separators=(",", ":")) for i in items)
            + "\n").encode()


def decode_deltas(blobs: list[bytes]) -> dict[str, CatalogRecord]:
    """Fold deltas into the catalog: an upsert changes the fields it sends, later ones win.
    Lines that cannot be used are left out (``fold`` also says which and why)."""
    catalog, _ = fold((str(n), blob) for n, blob in enumerate(blobs))
    return catalog


def fold(deltas: Iterable[tuple[str, bytes]],
         ) -> tuple[dict[str, CatalogRecord], list[SkippedInput]]:
    """Fold ``(key, delta)`` pairs into the catalog, and list the lines left out: each with
    its delta's key, its 1-based line number, its size and why."""
    updates: list[Item] = []
    skipped: list[SkippedInput] = []
    for key, blob in deltas:
        for number, raw in enumerate(blob.split(b"\n"), 1):
            if not raw.strip():
                continue
            item, problem = _item(raw)
            if item is None:
                skipped.append({"key": key, "line": number, "reason": problem,
                                "bytes": len(raw) + 1})
            else:
                updates.append(item)
    catalog: dict[str, CatalogRecord] = {}
    for item in sorted(updates, key=lambda i: i.get("updated_at") or 0):
        current = catalog.setdefault(item["item_id"], {"available": True})
        # The fields an upsert sent are its fields that are not None.
        current.update(cast(CatalogRecord, {k: v for k, v in item.items() if v is not None}))
    return catalog, skipped


def _item(raw: bytes) -> tuple[Item | None, str]:
    """One line as an upsert, or None and why it cannot be used (the reason names the field,
    never its value: the value is what could not be printed)."""
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except ValueError:
        return None, "not JSON"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    if not isinstance(data.get("item_id"), str) or not data["item_id"]:
        return None, "item_id: missing or not a string"
    for name, value in data.items():
        if (isinstance(value, str) and not _encodable(value)) or not _encodable(name):
            return None, f"{name}: not encodable as UTF-8 (a lone surrogate)"
    for name in _TEXT:
        if not isinstance(data.get(name), str | None):
            return None, f"{name}: not a string"
    for name in _NUMBERS:
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            return None, f"{name}: not a finite number"
    if not isinstance(data.get("available"), bool | None):
        return None, "available: not a boolean"
    return cast(Item, data), ""


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
