"""The nightly history a shopper's list row carries (``exclude=seen``): every item the model
trained on for them, bounded in bytes, kept in the model artefact from training to export."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.steps.export import bounded_history, export_rows
from recs.batch.training import train
from recs.batch.weighting import DAY_MS, weight_events
from recs.contracts.keys import HISTORY_MAX_BYTES
from recs.formats import npz

AS_OF = 1_795_000_000_000
SHOP = [("A", "rice", "purchase"), ("A", "milk", "purchase"), ("A", "lamb", "view"),
        ("C", "rice", "purchase"), ("C", "milk", "purchase"), ("B", "tea", "view"),
        ("B", "coffee", "view"), ("B", "rice", "view")]


def model() -> Model:
    table = pa.table({
        "event_id": [f"e{n}" for n in range(len(SHOP))],
        "user_id": [u for u, _, _ in SHOP], "session_id": pa.nulls(len(SHOP), pa.string()),
        "item_id": [i for _, i, _ in SHOP], "event_type": [k for _, _, k in SHOP],
        "ts": pa.array([AS_OF - DAY_MS + n for n in range(len(SHOP))],
                       pa.timestamp("ms", tz="UTC")),
        "category": pa.nulls(len(SHOP), pa.string())})
    config = BatchConfig(tuning_seconds=0)
    return train(weight_events(table, config, AS_OF), config)


def test_each_users_row_carries_every_item_of_theirs() -> None:
    rows = {row.key: row for row in export_rows(model(), "v", 0)}
    expected = {"A": {"rice", "milk", "lamb"}, "B": {"tea", "coffee", "rice"},
                "C": {"rice", "milk"}}
    for user, items in expected.items():
        assert sorted(rows[f"U#{user}"].history) == sorted(items)
    assert all(not row.history for key, row in rows.items() if not key.startswith("U#"))


def test_the_history_survives_the_artefact_and_an_older_artefact_has_none() -> None:
    trained = model()
    loaded = Model.from_bytes(trained.to_bytes())
    assert np.array_equal(loaded.history_indptr, trained.history_indptr)
    assert np.array_equal(loaded.history_items, trained.history_items)
    with np.load(io.BytesIO(trained.to_bytes()), allow_pickle=False) as saved:
        before = {name: saved[name] for name in saved.files if not name.startswith("history")}
    rows = list(export_rows(Model.from_bytes(npz.to_bytes(before)), "v", 0))
    assert rows and all(not row.history for row in rows)


@given(st.lists(st.text(min_size=1, max_size=256), max_size=600))
def test_a_history_stays_within_its_bytes_and_keeps_a_prefix(items: list[str]) -> None:
    kept = bounded_history(items)
    assert kept == items[:len(kept)]
    assert len(json.dumps(kept, separators=(",", ":"))) <= HISTORY_MAX_BYTES
    if len(kept) < len(items):  # cut only when the next one would not fit
        assert len(json.dumps(items[:len(kept) + 1], separators=(",", ":"))) > HISTORY_MAX_BYTES
