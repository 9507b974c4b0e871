"""The export's shares: together every row exactly once, and a failing share fails the step.

``RECS_EXPORT_PROCESSES`` splits the export into shares made and written at once in forked
processes (``recs.batch.steps.export``); tests/integration/test_export_processes.py runs
them against a table every process reaches (moto's server).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.steps import export
from recs.batch.training import train
from recs.batch.weighting import weight_events
from recs.exceptions import ExportFailed
from recs.stores.memory import MemoryModelRegistry, MemoryObjectStore, MemoryRecommendationStore
from recs.stores.ports import RecommendationStore
from tests.algorithms.test_training import AS_OF, events


def model_of(users: int) -> Model:
    """Shoppers buying three of five groceries each, so the lists span many blocks."""
    rng = np.random.default_rng(1)
    rows = [(f"u{user}", str(item), "purchase", user % 9 + 1, "groceries")
            for user in range(users)
            for item in rng.choice(["rice", "milk", "lamb", "bread", "tea"], 3, replace=False)]
    return train(weight_events(events(rows), BatchConfig(), AS_OF), BatchConfig())


def as_text(rows) -> Counter:  # type: ignore[no-untyped-def]
    return Counter(json.dumps([r.key, r.items, r.history], sort_keys=True) for r in rows)


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_the_shares_hold_every_row_exactly_once(monkeypatch: pytest.MonkeyPatch,
                                                parts: int) -> None:
    monkeypatch.setattr(export, "EXPORT_BLOCK_ROWS", 4)  # many blocks, cut between shares
    model = model_of(40)
    catalog = {"lamb": ["groceries/meat", "Leg of lamb", False],
               "kettle": ["kitchen", "Kettle", True]}  # an unavailable and a new item
    whole = as_text(export.export_rows(model, "v1", 0, catalog))
    shares = Counter[str]()
    for index in range(parts):
        shares += as_text(export.export_rows(model, "v1", 0, catalog, (index, parts)))
    assert shares == whole
    assert sum(whole.values()) > 40 + 5  # shoppers' lists, neighbours, trending, the new item


class Refusing(MemoryRecommendationStore):
    def write(self, rows):  # type: ignore[no-untyped-def]
        raise RuntimeError("throttled for good")


def test_a_share_failing_in_its_process_fails_the_step_naming_it() -> None:
    model = model_of(20)
    objects = MemoryObjectStore()
    objects.put("models/v1/model.npz", model.to_bytes())
    state = {"version": "v1", "as_of": "2026-11-20", "model_key": "models/v1/model.npz"}
    config = BatchConfig(export_processes=2)
    store = MemoryRecommendationStore()

    def refusing() -> RecommendationStore:
        return Refusing()

    with pytest.raises(ExportFailed, match="share 1: RuntimeError: throttled for good"):
        export.export_step(state, objects, store, MemoryModelRegistry(), config,  # type: ignore[arg-type]
                           now=datetime(2026, 11, 20, tzinfo=UTC), writers=refusing)


def test_without_a_store_factory_one_process_writes_everything() -> None:
    """An in-process store (the tests', or moto's in-process mock) cannot take writes from
    another process: without ``writers`` the setting is not used."""
    model = model_of(20)
    objects = MemoryObjectStore()
    objects.put("models/v1/model.npz", model.to_bytes())
    state = {"version": "v1", "as_of": "2026-11-20", "model_key": "models/v1/model.npz"}
    store = MemoryRecommendationStore()
    out = export.export_step(state, objects, store, MemoryModelRegistry(),  # type: ignore[arg-type]
                             BatchConfig(export_processes=4),
                             now=datetime(2026, 11, 20, tzinfo=UTC))
    assert out["counts"]["rows_written"] == out["counts"]["rows_expected"] == sum(
        as_text(export.export_rows(model, "v1", 0, {})).values())
