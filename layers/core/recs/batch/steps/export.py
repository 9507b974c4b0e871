"""Step 3, export: model artefact -> DynamoDB rows under the version, counted (numpy, scipy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from recs.batch.interactions import EVENT_RANK, SESSION_PREFIX
from recs.batch.model import Model
from recs.batch.steps import State, as_of, midnight_ms
from recs.config import BatchConfig
from recs.stores.ports import ModelRegistry, ModelVersion, ObjectStore, RecommendationStore, RecRow


def export_step(
    state: State,
    objects: ObjectStore,
    recommendations: RecommendationStore,
    registry: ModelRegistry,
    config: BatchConfig,
) -> State:
    """Write every list of the version to DynamoDB and record how many rows that was."""
    model = Model.from_bytes(objects.get(state["model_key"]))
    version = state["version"]
    expires_at = (midnight_ms(as_of(state)) // 1000) + config.model_ttl_days * 86_400
    expected = 0

    catalog: dict[str, list[Any]] = (
        json.loads(objects.get(state["catalog_key"])) if state.get("catalog_key") else {})

    def counted() -> Iterator[RecRow]:
        nonlocal expected
        for row in export_rows(model, version, expires_at, catalog):
            expected += 1
            yield row

    written = recommendations.write(counted())
    counts = {**state.get("counts", {}), "rows_expected": expected, "rows_written": written}
    registry.put_version(
        ModelVersion(
            version=version,
            status="exported",
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            window_start=state.get("window_start", ""),
            window_end=state["as_of"],
            params=(json.loads(objects.get(state["params_key"])) if state.get("params_key")
                    else config.as_dict()),
            counts=counts,
            metrics={**state.get("metrics", {}), "tuning": state.get("tuning", {})},
            prefix=f"models/{version}/",
        )
    )
    return {**state, "counts": counts}


def item_facts(model: Model, catalog: dict[str, list[Any]]) -> tuple[list[Any], list[Any],
                                                                       set[int]]:
    """Per item index: category, title, and the set of unavailable indices.

    The catalog wins; otherwise an item's category is the most specific trending list it is
    in (events report categories, the train step builds those lists from them).
    """
    items = model.item_ids.tolist()
    categories: list[Any] = [None] * len(items)
    for index, name in enumerate(model.category_names.tolist()):
        start, stop = model.category_indptr[index], model.category_indptr[index + 1]
        for i in model.category_items[start:stop].tolist():
            if categories[i] is None or len(name) > len(categories[i]):
                categories[i] = name
    titles: list[Any] = [None] * len(items)
    unavailable = set()
    for i, item_id in enumerate(items):
        facts = catalog.get(item_id)
        if facts:
            categories[i] = facts[0] or categories[i]
            titles[i] = facts[1]
            if facts[2] is False:
                unavailable.add(i)
    return categories, titles, unavailable


def export_rows(model: Model, version: str, expires_at: int,
                catalog: dict[str, list[Any]] | None = None) -> Iterator[RecRow]:
    """Rows: ``U#``/``S#`` user lists, ``I#`` neighbours, ``POP#global``, ``POP#C#<cat>``.

    Each entry is ``[item, score, because, event, category, title, because_title]``;
    unavailable items are left out of every list.
    """
    items = model.item_ids.tolist()
    categories, titles, unavailable = item_facts(model, catalog or {})

    def entry(i: int, score: float, because: int | None, event: str) -> list[Any]:
        return [items[i], round(float(score), 4), items[because] if because is not None else None,
                event, categories[i], titles[i],
                titles[because] if because is not None else None]

    for user, (start, stop) in enumerate(zip(model.rec_indptr[:-1], model.rec_indptr[1:],
                                             strict=True)):
        entries = [
            entry(i, s, b, EVENT_RANK[e] if e >= 0 else "view")
            for i, s, b, e in zip(
                model.rec_items[start:stop].tolist(),
                model.rec_scores[start:stop].tolist(),
                model.rec_because[start:stop].tolist(),
                model.rec_because_event[start:stop].tolist(),
                strict=True,
            )
            if i not in unavailable
        ]
        if not entries:
            continue
        uid = str(model.user_ids[user])
        key = (f"S#{uid[len(SESSION_PREFIX):]}" if uid.startswith(SESSION_PREFIX)
               else f"U#{uid}")
        yield RecRow(key, version, entries, expires_at)
    sim = model.similarity
    for item in range(sim.shape[0]):
        start, stop = sim.indptr[item], sim.indptr[item + 1]
        order = np.lexsort((sim.indices[start:stop], -sim.data[start:stop]))
        neighbours = sim.indices[start:stop][order].tolist()
        scores = sim.data[start:stop][order].tolist()
        entries = [entry(j, s, item, "similar")
                   for j, s in zip(neighbours, scores, strict=True) if j not in unavailable]
        if entries:
            yield RecRow(f"I#{items[item]}", version, entries, expires_at)
    trending = [entry(i, s, None, "trending")
                for i, s in zip(model.trending_items.tolist(),
                                model.trending_scores.tolist(), strict=True)
                if i not in unavailable]
    yield RecRow("POP#global", version, trending, expires_at)
    for index, name in enumerate(model.category_names.tolist()):
        start, stop = model.category_indptr[index], model.category_indptr[index + 1]
        entries = [entry(i, s, None, "trending")
                   for i, s in zip(model.category_items[start:stop].tolist(),
                                   model.category_scores[start:stop].tolist(), strict=True)
                   if i not in unavailable]
        yield RecRow(f"POP#C#{name}", version, entries, expires_at)
