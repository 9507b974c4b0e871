"""Score anything that ranks items for users on a temporal hold-out.

``prepare`` weights the training part with the nightly ``weight_events`` (time decay measured
from the end of the training data, never the wall clock) and indexes the test part the same
way; a *ranker* turns (test users, K, filter known items?) into a 2-D array of item indices;
``score`` computes every metric per user, on all test items and on items new to the user.

"New to the user" counts only test items the user had not interacted with in training, and
ranks with the user's known items removed from the list (each model's own list, filtered), so
it measures discovery, not the ability to repeat the history.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recs.algorithms.base import Recommender
from recs.batch.config import BatchConfig
from recs.batch.evaluation import metrics
from recs.batch.evaluation.split import Split, ts_ms
from recs.batch.interactions import Interactions
from recs.batch.model import Model
from recs.batch.training import user_item_matrix
from recs.batch.weighting import DAY_MS, user_keys, weight_events

# (users: indices into the training users, k, filter_known) -> item indices (n x k), -1 = none
Ranker = Callable[[np.ndarray, int, bool], np.ndarray]

HISTORY_BUCKETS = (1, 5, 20, 100)


@dataclass
class Holdout:
    """The test users and what they did, in the training data's user and item indices."""

    user_ids: np.ndarray  # str, the test users
    users: np.ndarray  # their row in the training matrix (-1 when unknown to it)
    relevant: sp.csr_matrix  # test users x items: known items they interacted with in test
    n_relevant: np.ndarray  # distinct test items, unknown items included
    relevant_new: sp.csr_matrix  # the same, minus items in the user's training history
    n_relevant_new: np.ndarray
    history_len: np.ndarray  # distinct training items per test user


@dataclass
class EvalData:
    interactions: Interactions
    x: sp.csr_matrix
    holdout: Holdout
    config: BatchConfig
    as_of_ms: int


def covering_config(config: BatchConfig, split: Split, k: int) -> BatchConfig:
    """``config`` with a training window that covers all of the split's training data and
    user lists long enough for ``k`` after filtering known items."""
    ts = ts_ms(split.train)
    span_days = (split.as_of_ms - int(ts.min())) / DAY_MS if ts.size else 1.0
    return dataclasses.replace(
        config,
        training_window_days=max(config.training_window_days, math.ceil(span_days) + 1),
        num_recommendations=max(config.num_recommendations, 3 * k),
    )


def index_of(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in ``ids`` (-1 when absent)."""
    if ids.size == 0:
        return np.full(values.size, -1, dtype=np.int64)
    order = np.argsort(ids)
    pos = np.searchsorted(ids[order], values)
    pos = np.minimum(pos, ids.size - 1)
    found = ids[order][pos] == values
    return np.where(found, order[pos], -1).astype(np.int64)


def positive_events(test: pa.Table, config: BatchConfig) -> np.ndarray:
    """Which test events count for scoring: those of a type with a positive weight."""
    positive_types = [t for t, w in config.event_weights.items() if w > 0]
    return np.isin(np.asarray(test["event_type"].to_pylist(), dtype=object), positive_types)


def build_holdout(test: pa.Table, config: BatchConfig, user_ids: np.ndarray,
                  item_ids: np.ndarray, history: sp.csr_matrix | None,
                  unknown_users: bool = False) -> Holdout:
    """Index the test events (positive types only) by the training users and items.

    Only users known to training are scored unless ``unknown_users`` (then their row is -1);
    ``history`` (users x items of the training data) gives the new-item view and history
    lengths (all zero without it).
    """
    mask = positive_events(test, config)
    users = np.asarray(user_keys(test).to_pylist(), dtype=str)[mask]
    items = np.asarray(test["item_id"].cast(pa.string()).to_pylist(), dtype=str)[mask]
    test_users, user_code = np.unique(users, return_inverse=True)
    rows = index_of(np.asarray(user_ids, dtype=str), test_users)
    known_user = rows >= 0 if not unknown_users else np.ones(rows.size, dtype=bool)
    test_users, rows = test_users[known_user], rows[known_user]
    remap = np.cumsum(known_user) - 1
    keep = known_user[user_code]
    user_code, items = remap[user_code[keep]], items[keep]
    item_code = index_of(np.asarray(item_ids, dtype=str), items)
    n_users, n_items = test_users.size, len(item_ids)

    # Distinct (user, item) pairs; unknown items get a key of their own so they count once.
    _, unknown_code = np.unique(items, return_inverse=True)
    key = np.where(item_code >= 0, item_code, n_items + unknown_code)
    pairs = np.unique(user_code.astype(np.int64) * (n_items + len(items) + 1) + key)
    pu = pairs // (n_items + len(items) + 1)
    pi = pairs % (n_items + len(items) + 1)
    n_relevant = np.bincount(pu, minlength=n_users)
    known = pi < n_items
    relevant = sp.csr_matrix((np.ones(int(known.sum()), np.float32), (pu[known], pi[known])),
                             shape=(n_users, n_items))
    if history is not None and n_users:
        hist = sp.csr_matrix(history[np.maximum(rows, 0)])
        hist = sp.csr_matrix(sp.diags((rows >= 0).astype(np.float32)) @ hist)
        hist.eliminate_zeros()
        had = np.zeros(pu.size, dtype=bool)
        if known.any():  # (indexing with empty arrays gives a sparse matrix, not an array)
            had[known] = np.asarray(hist[pu[known], pi[known]]).ravel() > 0
        history_len = np.diff(hist.indptr)
    else:
        had = np.zeros(pu.size, dtype=bool)
        history_len = np.zeros(n_users, dtype=np.int64)
    new = ~had
    n_relevant_new = np.bincount(pu[new], minlength=n_users)
    new_known = new & known
    relevant_new = sp.csr_matrix(
        (np.ones(int(new_known.sum()), np.float32), (pu[new_known], pi[new_known])),
        shape=(n_users, n_items))
    return Holdout(test_users, rows, relevant, n_relevant, relevant_new, n_relevant_new,
                   history_len)


def prepare(split: Split, config: BatchConfig, k: int = 20) -> EvalData:
    """Weight the training part with the nightly code; index the test part by it."""
    cfg = covering_config(config, split, k)
    interactions = weight_events(split.train, cfg, split.as_of_ms)
    x = user_item_matrix(interactions)
    holdout = build_holdout(split.test, cfg, interactions.user_ids, interactions.item_ids, x)
    return EvalData(interactions, x, holdout, cfg, split.as_of_ms)


@dataclass
class Result:
    name: str
    per_user: dict[str, np.ndarray]
    per_user_new: dict[str, np.ndarray]
    coverage: float
    fit_seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str, new: bool = False) -> float:
        values = (self.per_user_new if new else self.per_user)[metric]
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else float("nan")


def score(name: str, ranker: Ranker, data: EvalData, k: int, fit_seconds: float = 0.0,
          params: dict[str, Any] | None = None, new_items: bool = True) -> Result:
    """Every metric of ``ranker`` on the hold-out's users."""
    h = data.holdout
    ranked = ranker(h.users, k, False)
    per_user = metrics.per_user(ranked, h.relevant, h.n_relevant, k)
    if new_items:
        ranked_new = ranker(h.users, k, True)
        per_user_new = metrics.per_user(ranked_new, h.relevant_new, h.n_relevant_new, k)
    else:
        per_user_new = {m: np.full(h.users.size, np.nan) for m in metrics.METRICS}
    return Result(name, per_user, per_user_new, metrics.coverage(ranked, data.x.shape[1], k),
                  fit_seconds, dict(params or {}))


def recommender_ranker(model: Recommender, x: sp.csr_matrix, filter_liked: bool = False,
                       exclude: sp.csr_matrix | None = None) -> Ranker:
    """A fitted model as a ranker; ``filter_liked`` decides its main list's filtering."""

    def rank(users: np.ndarray, k: int, filter_known: bool) -> np.ndarray:
        rows = x[users]
        ex = None if exclude is None or filter_known else sp.csr_matrix(exclude[users])
        lists = model.rank(rows, k, filter_already_liked_items=filter_known or filter_liked,
                           exclude=ex)
        return lists.padded(k)[0]

    return rank


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``index_of`` for distinct ``ids``, without its sort when both are the same ids (a
    model scored on its own users and items: sorting a million ids takes seconds)."""
    ids, values = np.asarray(ids, dtype=str), np.asarray(values, dtype=str)
    if ids.shape == values.shape and np.array_equal(ids, values):
        return np.arange(ids.size, dtype=np.int64)
    return index_of(ids, values)


RANK_USERS = 16_384  # users a model ranker lays out at once (a few MB of entries)


def model_ranker(model: Model, user_ids: np.ndarray, item_ids: np.ndarray,
                 history: sp.csr_matrix | None = None) -> Ranker:
    """A trained ``Model`` artefact's stored lists as a ranker over another item index.

    ``users`` index ``user_ids``; users without a list get the model's trending list (what
    the API would serve them). With ``filter_known`` the user's ``history`` items are dropped.
    A list shorter than ``k`` continues with the trending items it does not hold; a served
    list never repeats an item. Made for a block of users at a time, as arrays (a loop per
    user would be most of the gate's scoring).
    """
    to_eval = _positions(item_ids, model.item_ids)
    model_row = _positions(model.user_ids, user_ids)
    trending = to_eval[model.trending_items] if model.trending_items.size else np.zeros(0, int)
    trending = trending[trending >= 0].astype(np.int64)
    known_items = None if history is None else sp.csr_matrix(history)

    n_items = max(len(item_ids), 1)

    def served(users: np.ndarray, k: int, filter_known: bool,
               head: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each user's served items in order (slot, item, rank) and the users whose list
        may hold more than was read: with ``head`` only a list's first ``k`` are read."""
        n = users.size
        row = np.full(n, -1, dtype=np.int64)
        row[users >= 0] = model_row[users[users >= 0]]
        known = row >= 0
        start = np.zeros(n, dtype=np.int64)
        lengths = np.zeros(n, dtype=np.int64)
        start[known] = model.rec_indptr[row[known]]
        lengths[known] = model.rec_indptr[row[known] + 1] - start[known]
        read = np.minimum(lengths, k) if head else lengths
        # Each user's entries in order: the list, then the trending list when it is short.
        counts = read + np.where(lengths < k, trending.size, 0)
        slot = np.repeat(np.arange(n), counts)
        at = np.arange(slot.size) - np.repeat(np.cumsum(counts) - counts, counts)
        listed = at < read[slot]
        item = np.empty(slot.size, dtype=np.int64)
        item[listed] = to_eval[model.rec_items[start[slot[listed]] + at[listed]]]
        item[~listed] = trending[(at - read[slot])[~listed]]
        keep = item >= 0
        # The first of each (user, item): np.unique's indices are first occurrences.
        valid = np.flatnonzero(keep)
        keep[:] = False
        keep[valid[np.unique(slot[valid] * n_items + item[valid], return_index=True)[1]]] = True
        if filter_known and known_items is not None:
            asked = keep & (users[slot] >= 0)
            if asked.any():
                keep[asked] = ~(np.asarray(known_items[users[slot[asked]], item[asked]])
                                .ravel() > 0)
        slot, item = slot[keep], item[keep]
        rank = np.arange(slot.size) - np.searchsorted(slot, slot, side="left")
        short = np.bincount(slot, minlength=n) < k
        return slot, item, rank, np.flatnonzero(short & (read < lengths))

    def block(users: np.ndarray, k: int, filter_known: bool) -> np.ndarray:
        out = np.full((users.size, k), -1, dtype=np.int64)
        # A list's first k items are enough unless some were dropped (repeats, items unknown
        # to the index, the history): those users' lists are read again, whole.
        slot, item, rank, more = served(users, k, filter_known, head=True)
        keep = rank < k
        out[slot[keep], rank[keep]] = item[keep]
        if more.size:
            out[more] = -1
            slot, item, rank, _ = served(users[more], k, filter_known, head=False)
            keep = rank < k
            out[more[slot[keep]], rank[keep]] = item[keep]
        return out

    def rank(users: np.ndarray, k: int, filter_known: bool) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        if users.size == 0 or k <= 0:
            return np.full((users.size, max(k, 0)), -1, dtype=np.int64)
        return np.concatenate([block(users[start:start + RANK_USERS], k, filter_known)
                               for start in range(0, users.size, RANK_USERS)])

    return rank


def breakdown(result: Result, holdout: Holdout, metric: str = "ndcg",
              new: bool = False) -> list[tuple[str, metrics.Estimate]]:
    """``metric`` by the user's training history length (distinct items)."""
    values = (result.per_user_new if new else result.per_user)[metric]
    edges = [*HISTORY_BUCKETS, np.iinfo(np.int64).max]
    out = []
    for low, high in itertools.pairwise(edges):
        in_bucket = (holdout.history_len >= low) & (holdout.history_len < high)
        v = values[in_bucket]
        label = f"{low}+" if high == edges[-1] else f"{low}-{high - 1}"
        out.append((label, metrics.estimate(v[~np.isnan(v)])))
    return out
