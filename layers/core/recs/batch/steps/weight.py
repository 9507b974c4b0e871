"""Step 1, weight: the window's event partitions -> weighted interactions (pyarrow, numpy)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.reclaim import release_memory
from recs.batch.steps import State, as_of, midnight_ms
from recs.batch.weighting import weight_arrays, window_arrays
from recs.batch.window import read_window
from recs.contracts.ids import model_version
from recs.formats import catalog_deltas, event_files
from recs.stores.ports import ObjectStore


def weight_step(state: State, objects: ObjectStore, config: BatchConfig) -> State:
    """Read the window's partitions (only the needed columns), weight, write interactions."""
    day = as_of(state)
    start = day - timedelta(days=config.training_window_days)
    keys = [
        key
        for key in objects.list(event_files.EVENTS_PREFIX)
        if key.endswith(".parquet")
        and (dt := event_files.partition_date(key)) is not None
        and start.isoformat() <= dt < day.isoformat()
    ]
    catalog_keys = [k for k in objects.list(catalog_deltas.CATALOG_PREFIX) if k.endswith(".jsonl")]
    version = model_version(day, keys + catalog_keys, config.as_dict())
    table = read_window(objects, keys)  # deduplicated, without the ids
    # The window's events too: tuning and the promotion gate need event times, not sums.
    events_key = f"interactions/{version}/events.parquet"
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
    facts = {i: [v.get("category"), v.get("title"), v.get("available", True)]
             for i, v in items.items()}
    apply_catalog_categories(interactions, facts)
    interactions_key = f"interactions/{version}/interactions.npz"
    objects.put(interactions_key, interactions.to_bytes())
    catalog_key = f"interactions/{version}/catalog.json"
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


def apply_catalog_categories(interactions: Interactions, facts: dict[str, list[Any]]) -> None:
    """The catalog's category beats the one events reported."""
    if not facts:
        return
    known = np.array([(facts.get(i) or [""])[0] or "" for i in interactions.item_ids.tolist()],
                     dtype=str)
    interactions.item_category = np.where(known != "", known, interactions.item_category)
