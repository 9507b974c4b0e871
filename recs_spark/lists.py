"""The user lists, ranked per partition of users by the single-node code, written as row files.

Each executor rebuilds the blend from broadcast arrays (the similarity, each item's repeat
weight and popularity: ``Recommender.restore``, no fit) and hands a part of the users to
``recs.batch.recommend.recommend`` with ``recs.batch.training.exclusions``, the new-items
top-up and the reasons, exactly as ``recs.batch.training.train`` does; the part's rows are
``recs.batch.steps.export.export_rows``' own. A part is ``PART_BLOCKS`` whole ranking blocks
of consecutive users (``DEFAULT_BLOCK_USERS`` each, in the single-node user order), so
every block the ranking sees holds the users the single-node ranking's block holds: with a
popularity prior a list depends on its block's longest history, and the lists come out
the same, not merely equivalent.

Scale: the broadcast holds the similarity (items x K), the item ids and categories, and
the catalog snapshot; a part's own arrays are its users' pairs (``PART_BLOCKS`` x 2,048
users). Each part also looks every item up in the catalog once (``export_rows``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recs.algorithms.base import Recommender, Saved
from recs.algorithms.registry import MODELS, create
from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.model import Model
from recs.batch.recommend import DEFAULT_BLOCK_USERS, recommend
from recs.batch.steps.export import export_rows
from recs.batch.training import (
    algorithm_params,
    because_events,
    event_matrix,
    exclusions,
    user_item_matrix,
)
from recs.contracts import keys, layout
from recs.formats import row_files
from recs_spark.stores import open_store

PART_BLOCKS = 8  # ranking blocks per part (one row file each): 16,384 users
PART_USERS = PART_BLOCKS * DEFAULT_BLOCK_USERS

INPUT_SCHEMA = "part long, u long, user string, i int, weight float, top_event byte, sample boolean"
OUTPUT_SCHEMA = "part long, key string, rows long, users long, sample binary"


@dataclass
class Ranking:
    """What every part needs, broadcast once: the fitted blend's arrays and the row facts."""

    config: BatchConfig
    version: str
    store_url: str
    write: bool  # write row files (False: only the sample users' lists, for the shadow)
    item_ids: np.ndarray
    item_category: np.ndarray
    item_weight: np.ndarray
    item_popularity: np.ndarray
    similarity: sp.csr_matrix
    category_names: np.ndarray
    category_indptr: np.ndarray
    category_items: np.ndarray
    category_scores: np.ndarray
    catalog: dict[str, list[Any]] = field(default_factory=dict)
    as_of_ms: int = 0


def blend(ranking: Ranking) -> Recommender:
    """The configured model as its fit would leave it, from the broadcast arrays."""
    config = ranking.config
    fresh = create(config.algorithm, **algorithm_params(config))
    sim = ranking.similarity
    arrays = {"item_weight": ranking.item_weight, "item_popularity": ranking.item_popularity,
              "discovery__sim_indptr": sim.indptr, "discovery__sim_indices": sim.indices,
              "discovery__sim_data": sim.data}
    return MODELS[fresh.name].restore(
        Saved(fresh.name, fresh.get_params(), int(ranking.item_ids.size), arrays))


_MODELS: dict[int, Recommender] = {}  # per worker process: the broadcast's value -> its model


def rank_parts(broadcast: Any) -> Any:
    """The ``mapInArrow`` function over partitions of ``INPUT_SCHEMA`` rows sorted by part
    and user: one ``OUTPUT_SCHEMA`` row per part (its row file, and its sample users' lists
    as a ``Model``'s bytes). Parts are ranked as their rows stream in, one at a time."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        ranking: Ranking = broadcast.value
        model = _MODELS.get(id(ranking))  # the worker loads a broadcast's value once
        if model is None:
            _MODELS.clear()
            model = _MODELS[id(ranking)] = blend(ranking)
        store = open_store(ranking.store_url) if ranking.write else None
        held: list[pa.RecordBatch] = []  # the current part's rows: one part in memory
        for batch in batches:
            if batch.num_rows == 0:
                continue
            parts = batch["part"].to_numpy()
            for start, stop in itertools.pairwise(
                    np.flatnonzero(np.r_[True, parts[1:] != parts[:-1], True]).tolist()):
                piece = batch.slice(start, stop - start)
                if held and held[0]["part"][0].as_py() != piece["part"][0].as_py():
                    yield _one_part(pa.Table.from_batches(held), ranking, model, store)
                    held = []
                held.append(piece)
        if held:
            yield _one_part(pa.Table.from_batches(held), ranking, model, store)

    return run


def _one_part(rows: pa.Table, ranking: Ranking, model: Recommender,
              store: Any) -> pa.RecordBatch:
    part = int(rows["part"][0].as_py())
    u = rows["u"].to_numpy()
    users, user_index = np.unique(u, return_inverse=True)
    first = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1] if u.size else np.zeros(0, np.int64)
    user_ids = np.asarray(rows["user"].take(pa.array(first)).to_pylist(), dtype=str)
    sample = rows["sample"].to_numpy(zero_copy_only=False)[first]
    interactions = Interactions(
        user_ids=user_ids, item_ids=ranking.item_ids,
        user_index=user_index.astype(np.int32), item_index=rows["i"].to_numpy(),
        weight=rows["weight"].to_numpy(), top_event=rows["top_event"].to_numpy(),
        item_category=ranking.item_category,
        trending=np.zeros(ranking.item_ids.size, np.float32), as_of_ms=ranking.as_of_ms)
    lists = part_model(model, interactions, ranking)
    key, written = "", 0
    if store is not None:
        out = list(itertools.takewhile(lambda row: row.key != keys.GLOBAL_TRENDING,
                                       export_rows(lists, ranking.version, 0,
                                                   ranking.catalog)))
        key = layout.row_file(ranking.version, 1 + part)
        store.put(key, row_files.to_bytes(out))
        written = len(out)
    chosen = np.flatnonzero(sample)
    sampled = select_users(lists, chosen).to_bytes() if chosen.size else None
    return pa.RecordBatch.from_pydict(
        {"part": [part], "key": [key], "rows": [written], "users": [int(users.size)],
         "sample": [sampled]},
        schema=pa.schema([("part", pa.int64()), ("key", pa.string()), ("rows", pa.int64()),
                          ("users", pa.int64()), ("sample", pa.binary())]))


def part_model(model: Recommender, interactions: Interactions, ranking: Ranking) -> Model:
    """``recs.batch.training.train``'s lists for these users (no neighbours, no trending:
    those rows are the driver's)."""
    config = ranking.config
    x = user_item_matrix(interactions)
    exclude = exclusions(model, interactions, config)
    new_items = config.num_recommendations // 2 if model.spec.new_items else 0
    recs = recommend(model, x, config.num_recommendations, exclude=exclude, new_items=new_items)
    because_event = because_events(event_matrix(interactions), recs)
    n_items = int(ranking.item_ids.size)
    return Model(
        user_ids=interactions.user_ids, item_ids=ranking.item_ids,
        similarity=sp.csr_matrix((n_items, n_items), dtype=np.float32),
        rec_indptr=recs.indptr, rec_items=recs.items, rec_scores=recs.scores,
        rec_because=recs.because, rec_because_event=because_event,
        trending_items=np.zeros(0, np.int32), trending_scores=np.zeros(0, np.float32),
        category_names=ranking.category_names, category_indptr=ranking.category_indptr,
        category_items=ranking.category_items, category_scores=ranking.category_scores,
        history_indptr=x.indptr.astype(np.int64), history_items=x.indices.astype(np.int32))


def select_users(model: Model, rows: np.ndarray) -> Model:
    """``model`` with only the lists (and histories) of the users at ``rows``."""

    def cut(indptr: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
        lengths = np.diff(indptr)[rows]
        take = (np.concatenate([np.arange(indptr[r], indptr[r + 1]) for r in rows])
                if rows.size else np.zeros(0, np.int64)).astype(np.int64)
        return (np.r_[0, np.cumsum(lengths)].astype(np.int64),
                *(column[take] for column in columns))

    indptr, items, scores, because, event = cut(
        model.rec_indptr, model.rec_items, model.rec_scores, model.rec_because,
        model.rec_because_event)
    history_indptr, history_items = cut(model.history_indptr, model.history_items)
    return Model(
        user_ids=model.user_ids[rows], item_ids=model.item_ids, similarity=model.similarity,
        rec_indptr=indptr, rec_items=items, rec_scores=scores, rec_because=because,
        rec_because_event=event, trending_items=model.trending_items,
        trending_scores=model.trending_scores, category_names=model.category_names,
        category_indptr=model.category_indptr, category_items=model.category_items,
        category_scores=model.category_scores, history_indptr=history_indptr,
        history_items=history_items)


def join_users(parts: list[Model], base: Model) -> Model:
    """``base`` (neighbours, trending) with the users' lists of ``parts``, in order."""

    def stack(name: str, dtype: type) -> np.ndarray:
        arrays = [getattr(p, name) for p in parts]
        return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)

    def indptr(name: str) -> np.ndarray:
        lengths = [np.diff(getattr(p, name)) for p in parts]
        return np.r_[0, np.cumsum(np.concatenate(lengths) if lengths else [])].astype(np.int64)

    return Model(
        user_ids=(np.concatenate([p.user_ids for p in parts]) if parts
                  else np.zeros(0, dtype="<U1")),
        item_ids=base.item_ids, similarity=base.similarity,
        rec_indptr=indptr("rec_indptr"), rec_items=stack("rec_items", np.int32),
        rec_scores=stack("rec_scores", np.float32), rec_because=stack("rec_because", np.int32),
        rec_because_event=stack("rec_because_event", np.int8),
        trending_items=base.trending_items, trending_scores=base.trending_scores,
        category_names=base.category_names, category_indptr=base.category_indptr,
        category_items=base.category_items, category_scores=base.category_scores,
        history_indptr=indptr("history_indptr"), history_items=stack("history_items", np.int32))
