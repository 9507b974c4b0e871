"""Step 3, export: model artefact -> DynamoDB rows under the version, counted (numpy, scipy)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

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

    def counted() -> Iterator[RecRow]:
        nonlocal expected
        for row in export_rows(model, version, expires_at):
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
            params=config.as_dict(),
            counts=counts,
            metrics=state.get("metrics", {}),
            prefix=f"models/{version}/",
        )
    )
    return {**state, "counts": counts}


def export_rows(model: Model, version: str, expires_at: int) -> Iterator[RecRow]:
    """Rows: ``U#``/``S#`` user lists, ``I#`` neighbours, ``POP#global``, ``POP#C#<cat>``."""
    items = model.item_ids.tolist()
    for user, (start, stop) in enumerate(zip(model.rec_indptr[:-1], model.rec_indptr[1:],
                                             strict=True)):
        if start == stop:
            continue
        uid = str(model.user_ids[user])
        key = (f"S#{uid[len(SESSION_PREFIX):]}" if uid.startswith(SESSION_PREFIX)
               else f"U#{uid}")
        entries = [
            [items[i], round(float(s), 4), items[b], EVENT_RANK[e] if e >= 0 else "view"]
            for i, s, b, e in zip(
                model.rec_items[start:stop].tolist(),
                model.rec_scores[start:stop].tolist(),
                model.rec_because[start:stop].tolist(),
                model.rec_because_event[start:stop].tolist(),
                strict=True,
            )
        ]
        yield RecRow(key, version, entries, expires_at)
    sim = model.similarity
    for item in range(sim.shape[0]):
        start, stop = sim.indptr[item], sim.indptr[item + 1]
        if start == stop:
            continue
        order = np.lexsort((sim.indices[start:stop], -sim.data[start:stop]))
        neighbours = sim.indices[start:stop][order].tolist()
        scores = sim.data[start:stop][order].tolist()
        entries = [[items[j], round(float(s), 4), items[item], "similar"]
                   for j, s in zip(neighbours, scores, strict=True)]
        yield RecRow(f"I#{items[item]}", version, entries, expires_at)
    trending = [[items[i], round(float(s), 4), None, "trending"]
                for i, s in zip(model.trending_items.tolist(),
                                model.trending_scores.tolist(), strict=True)]
    yield RecRow("POP#global", version, trending, expires_at)
    for index, name in enumerate(model.category_names.tolist()):
        start, stop = model.category_indptr[index], model.category_indptr[index + 1]
        entries = [[items[i], round(float(s), 4), None, "trending"]
                   for i, s in zip(model.category_items[start:stop].tolist(),
                                   model.category_scores[start:stop].tolist(), strict=True)]
        yield RecRow(f"POP#C#{name}", version, entries, expires_at)
