"""New items: can content similarity place items that have no interactions yet?

On a global-time split, the *cold* items are those first sold at or after the cutoff: no
model trained before it has seen them. Each test shopper (known to training) who bought a
cold item in the test period gets the cold items ranked from their training history by
``recs.algorithms.content`` (title words, price band, category, brand); NDCG@K counts the
cold items they bought. An interaction model (ours or implicit's) has no column for such an
item and cannot rank it at all, so the comparisons are a random order (the expected NDCG
over shuffles), what an interaction-free shop would do, and the content score of the
shop's whole training demand (the cold items most like what sells, the same for everyone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recs.algorithms import content
from recs.batch.evaluation import core, metrics
from recs.batch.evaluation.split import Split
from recs.batch.weighting import user_keys

SHUFFLES = 50


@dataclass
class ColdResult:
    n_cold: int
    n_users: int
    with_neighbours: float  # share of cold items with a content neighbour among known items
    per_user: dict[str, np.ndarray]  # NDCG@K per test user, by ranking


def _catalog_rows(catalog: pa.Table, ids: np.ndarray) -> dict[str, list[object]]:
    where = core.index_of(np.asarray(catalog["item_id"].to_pylist(), dtype=str), ids)
    out: dict[str, list[object]] = {}
    for column in ("title", "category", "price", "brand"):
        if column in catalog.column_names:
            values = catalog[column].to_pylist()
            out[column] = [values[w] if w >= 0 else None for w in where.tolist()]
    return out


GRID = {f"title {t:g}, price {p:g}": content.Weights(title=t, price=p)
        for t in (0.0, 1.0) for p in (0.0, 0.3, 1.0, 3.0) if t or p}


def choose_weights(split: Split, data: core.EvalData, catalog: pa.Table,
                   k: int = 20) -> tuple[str, content.Weights]:
    """The ``GRID`` weights with the best NDCG@K on a validation split (cold items of the
    validation period); the test is not looked at."""
    result = evaluate(split, data, catalog, k, GRID)
    best = max(GRID, key=lambda name: float(np.nanmean(result.per_user[name])))
    return best, GRID[best]


def evaluate(split: Split, data: core.EvalData, catalog: pa.Table, k: int = 20,
             weights: dict[str, content.Weights] | None = None, seed: int = 0) -> ColdResult:
    """NDCG@K of each content weighting in ``weights`` (the default ``content.Weights()``
    without), then the shop-demand and random baselines."""
    first = np.asarray(catalog["first_ms"].to_pylist(), dtype=np.int64)
    catalog_ids = np.asarray(catalog["item_id"].to_pylist(), dtype=str)
    cold_ids = catalog_ids[first >= split.as_of_ms]
    known_ids = np.asarray(data.interactions.item_ids, dtype=str)
    cold_ids = cold_ids[core.index_of(known_ids, cold_ids) < 0]
    all_ids = np.r_[known_ids, cold_ids]
    n_known, n_cold = known_ids.size, cold_ids.size
    cold_index = np.arange(n_known, n_known + n_cold)

    # Test purchases of cold items by shoppers known to training.
    test = split.test
    kinds = [t for t, w in data.config.event_weights.items() if w > 0]
    positive = np.isin(np.asarray(test["event_type"].to_pylist(), dtype=object), kinds)
    users = np.asarray(user_keys(test).to_pylist(), dtype=str)[positive]
    items = np.asarray(test["item_id"].cast(pa.string()).to_pylist(), dtype=str)[positive]
    rows = core.index_of(np.asarray(data.interactions.user_ids, dtype=str), users)
    col = core.index_of(cold_ids, items)
    hit = (rows >= 0) & (col >= 0)
    test_rows, user_of = np.unique(rows[hit], return_inverse=True)
    relevant = sp.csr_matrix((np.ones(int(hit.sum()), np.float32), (user_of, col[hit])),
                             shape=(test_rows.size, n_cold))
    relevant.sum_duplicates()
    relevant.data[:] = 1.0
    n_relevant = np.diff(relevant.indptr)
    history = sp.csr_matrix(data.x[test_rows])
    history = sp.csr_matrix((history.data, history.indices, history.indptr),
                            shape=(test_rows.size, all_ids.size))

    attrs = _catalog_rows(catalog, all_ids)
    titles = [str(t) if t is not None else None for t in attrs.get("title", [None] * all_ids.size)]

    def features(w: content.Weights) -> sp.csr_matrix:
        return content.item_features(
            titles, attrs.get("category"),  # type: ignore[arg-type]
            attrs.get("price"), attrs.get("brand"), weights=w)  # type: ignore[arg-type]

    def ranked(scores: np.ndarray) -> np.ndarray:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.where(np.take_along_axis(scores, order, axis=1) > 0, order, -1)

    out: dict[str, np.ndarray] = {}
    chosen = weights or {"content": content.Weights()}
    f = features(next(iter(chosen.values())))
    # A cold item's best match among the trained items (0: no neighbour).
    to_known = np.asarray((f[cold_index] @ f[:n_known].T).max(axis=1).todense()).ravel() \
        if n_cold else np.zeros(0)
    for label, w in chosen.items():
        fw = features(w)
        scores = content.score_candidates(history, fw, cold_index)
        out[label] = metrics.per_user(ranked(scores), relevant, n_relevant, k)["ndcg"]
    demand = np.asarray(data.x.sum(axis=0)).ravel()
    shop = sp.csr_matrix(np.r_[demand, np.zeros(n_cold)][None, :].astype(np.float32))
    shop_scores = content.score_candidates(shop, f, cold_index)
    out["content of the shop's demand (same for all)"] = metrics.per_user(
        ranked(np.repeat(shop_scores, test_rows.size, axis=0)), relevant, n_relevant, k)["ndcg"]
    rng = np.random.default_rng(seed)
    shuffled = np.zeros(test_rows.size)
    for _ in range(SHUFFLES):
        order = np.argsort(rng.random((test_rows.size, n_cold)), axis=1)[:, :k]
        shuffled += metrics.per_user(order, relevant, n_relevant, k)["ndcg"]
    out["random order (libraries cannot rank them)"] = shuffled / SHUFFLES
    return ColdResult(n_cold, test_rows.size, float((to_known > 0).mean()) if n_cold else 0.0,
                      out)


def markdown(result: ColdResult, k: int = 20) -> str:
    lines = [
        f"New items: {result.n_cold} stock codes first sold in the test period, bought there "
        f"by {result.n_users} shoppers known to training; "
        f"{result.with_neighbours:.0%} of them have a content neighbour among the trained "
        f"items. NDCG@{k} of ranking the new items for each of those shoppers:",
        "",
        f"| ranking | NDCG@{k} |",
        "|---|---|",
    ]
    names = list(result.per_user)
    for name in names:
        e = metrics.estimate(result.per_user[name][~np.isnan(result.per_user[name])])
        lines.append(f"| {name} | {e.mean:.4f} ± {(e.high - e.low) / 2:.4f} |")
    lines.append("")
    first = names[0]
    for other in names[1:]:
        p = metrics.paired(result.per_user[first], result.per_user[other])
        lines.append(f"- {first} - {other}: {p.mean:+.4f} [{p.low:+.4f}, {p.high:+.4f}] over "
                     f"{p.n} shoppers (wins {p.wins}, losses {p.losses}): {p.verdict}")
    return "\n".join(lines)
