"""Read a catalog file (CSV or Parquet) for ``recs import-catalog`` and ``recs demo``.

Columns: ``item_id`` (required), ``category``, ``title``, ``price``, ``available``,
``created_at``; any other column becomes a free attribute.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

KNOWN = ("item_id", "category", "title", "price", "available", "created_at")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if key == "price":
            try:
                item[key] = float(value)
            except ValueError:
                item[key] = value  # validation names the field
        elif key == "available":
            text = str(value).strip().lower()
            item[key] = True if text in _TRUE else False if text in _FALSE else value
        elif key == "created_at":
            text = str(value).strip()
            item[key] = int(text) * (1000 if len(text) <= 10 else 1) if text.isdigit() else value
        elif key in KNOWN:
            item[key] = value
        else:
            attributes[key] = value
    if attributes:
        item["attributes"] = attributes
    return item


def read_catalog(path: Path) -> list[dict[str, Any]]:
    """Items as ``PUT /items`` takes them; the caller validates."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return [_row(r) for r in pq.read_table(path).to_pylist()]
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if "item_id" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: a catalog needs an item_id column")
        return [_row(r) for r in reader]
