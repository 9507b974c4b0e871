"""Step 1, weight: the window's event partitions -> weighted interactions (pyarrow, numpy)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.reclaim import release_memory
from recs.batch.steps import as_of, midnight_ms
from recs.batch.weighting import weight_arrays, window_arrays
from recs.batch.window import read_window
from recs.contracts import layout
from recs.contracts.ids import model_version
from recs.contracts.items import FACT_CATEGORY, ItemFacts
from recs.contracts.state import BatchState
from recs.formats import catalog_deltas
from recs.stores.ports import ObjectStore

_NO_FACTS = ItemFacts(None, None, True)


def weight_step(state: BatchState, objects: ObjectStore, config: BatchConfig) -> BatchState:
    """Read the window's partitions (only the needed columns), weight, write interactions."""
    day = as_of(state)
    start = day - timedelta(days=config.training_window_days)
    keys = [
        key
        for key in objects.list(layout.EVENTS)
        if (dt := layout.event_file_date(key)) is not None
        and start.isoformat() <= dt < day.isoformat()
    ]
    catalog_keys = [k for k in objects.list(layout.CATALOG) if layout.is_catalog_delta(k)]
    version = model_version(day, keys + catalog_keys, config.as_dict())
    table = read_window(objects, keys)  # deduplicated, without the ids
    # The window's events too: tuning and the promotion gate need event times, not sums.
    events_key = layout.window_events(version)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    objects.put(events_key, buffer.getvalue())
    del buffer
    events = table.num_rows
    # The table goes before the sums are made: its strings were the step's memory peak.
    arrays = window_arrays(table, config, midnight_ms(day))
    del table
    release_memory()
    interactions = weight_arrays(arrays, config, midnight_ms(day))
    release_memory()  # the sums' scratch, before the interactions file is written
    items = catalog_deltas.decode_deltas([objects.get(key) for key in catalog_keys])
    facts = {i: ItemFacts(v.get("category"), v.get("title"), v.get("available", True))
             for i, v in items.items()}
    apply_catalog_categories(interactions, facts)
    interactions_key = layout.interactions(version)
    objects.put(interactions_key, interactions.to_bytes())
    catalog_key = layout.catalog_snapshot(version)
    objects.put(catalog_key, json.dumps(facts, separators=(",", ":")).encode())
    return {
        **state,
        "as_of": day.isoformat(),
        "window_start": start.isoformat(),
        "version": version,
        "interactions_key": interactions_key,
        "catalog_key": catalog_key,
        "events_key": events_key,
        "counts": {
            "partitions": len(keys),
            "events": events,
            "users": interactions.n_users,
            "items": interactions.n_items,
            "interactions": int(interactions.weight.size),
            "catalog_items": len(items),
        },
    }


def apply_catalog_categories(interactions: Interactions,
                             facts: Mapping[str, Sequence[Any]]) -> None:
    """The catalog's category beats the one events reported (``facts`` maps item ids to
    ``ItemFacts``, or to the lists they are in JSON)."""
    if not facts:
        return
    known = np.array([(facts.get(i) or _NO_FACTS)[FACT_CATEGORY] or ""
                      for i in interactions.item_ids.tolist()], dtype=str)
    interactions.item_category = np.where(known != "", known, interactions.item_category)
