"""Train a model version from interactions: similarity, user lists, trending."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recs.batch import popularity
from recs.batch.interactions import PURCHASE, Interactions
from recs.batch.model import Model
from recs.batch.recommend import recommend
from recs.batch.similarity import cosine
from recs.config import BatchConfig


def user_item_matrix(interactions: Interactions) -> sp.csr_matrix:
    """The users x items CSR matrix of weights."""
    return sp.csr_matrix(
        (interactions.weight.astype(np.float32),
         (interactions.user_index, interactions.item_index)),
        shape=(interactions.n_users, interactions.n_items),
    )


def event_matrix(interactions: Interactions) -> sp.csr_matrix:
    """Users x items CSR of ``top_event + 1`` (so that impressions are not dropped)."""
    return sp.csr_matrix(
        (interactions.top_event.astype(np.int8) + 1,
         (interactions.user_index, interactions.item_index)),
        shape=(interactions.n_users, interactions.n_items),
    )


def train(interactions: Interactions, config: BatchConfig) -> Model:
    x = user_item_matrix(interactions)
    similarity = cosine(x, config.neighbours, config.shrinkage)
    events = event_matrix(interactions)
    # Already bought items are not recommended again; viewed or carted ones may be, since
    # they are still candidates for a purchase.
    bought = sp.csr_matrix(events == PURCHASE + 1, dtype=np.float32)
    recs = recommend(x, similarity, config.num_recommendations, exclude=bought)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(recs.indptr))
    because_event = (
        np.asarray(events[rows, recs.because]).ravel().astype(np.int8) - 1
        if rows.size
        else np.zeros(0, np.int8)
    )

    trending_items = popularity.top_items(interactions.trending, config.trending_size)
    per_category = popularity.by_category(
        interactions.trending, interactions.item_category, config.trending_size
    )
    names = sorted(per_category)
    lengths = [per_category[name].size for name in names]
    category_items = (
        np.concatenate([per_category[name] for name in names]) if names else np.zeros(0, np.int64)
    )
    return Model(
        user_ids=interactions.user_ids,
        item_ids=interactions.item_ids,
        similarity=similarity,
        rec_indptr=recs.indptr,
        rec_items=recs.items,
        rec_scores=recs.scores,
        rec_because=recs.because,
        rec_because_event=because_event,
        trending_items=trending_items.astype(np.int32),
        trending_scores=interactions.trending[trending_items].astype(np.float32),
        category_names=np.asarray(names, dtype=str),
        category_indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        category_items=category_items.astype(np.int32),
        category_scores=interactions.trending[category_items].astype(np.float32),
    )
