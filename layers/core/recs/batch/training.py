"""Train a model version from interactions: the configured algorithm, user lists, trending.

Nothing here knows an algorithm by name or class: the model's declaration
(``recs.algorithms.catalog``) says which settings make its constructor arguments, whether its
fit takes item weights, what becomes of items a user bought, whether its lists are topped up
with new items, and its ``item_similarity()`` gives the neighbours behind "similar items".
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import Recommender
from recs.algorithms.knn import cosine
from recs.algorithms.registry import create
from recs.batch import trending
from recs.batch.config import BatchConfig
from recs.batch.interactions import PURCHASE, Interactions
from recs.batch.model import Model
from recs.batch.reclaim import release_memory
from recs.batch.recommend import DEFAULT_BLOCK_USERS, UserRecommendations, recommend


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


def algorithm_params(config: BatchConfig, name: str | None = None) -> dict[str, object]:
    """Constructor arguments of the named (default: configured) algorithm: the settings its
    declared parameters name (``catalog.arguments``)."""
    return catalog.arguments(name or config.algorithm, config.as_dict())


def category_weights(
    categories: np.ndarray, config: BatchConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's repeat weight, and whether its category is a configured repeat kind.

    The most specific configured category path wins (``groceries/dairy/milk`` takes
    ``groceries/dairy`` when only that is listed), then ``"*"`` (every other category,
    uncategorised items included), then the global ``blend_weight``. An item is a repeat kind
    (bought items may be recommended again) when a listed weight for it is positive.
    """
    table = config.blend_category_weights
    fallback = table.get("*")
    weights = np.full(categories.shape[0], config.blend_weight, dtype=np.float32)
    listed = np.zeros(categories.shape[0], dtype=bool)
    if not table:
        return weights, listed
    names, codes = np.unique(categories.astype(str), return_inverse=True)
    per_name = np.full(names.size, config.blend_weight, dtype=np.float32)
    per_listed = np.zeros(names.size, dtype=bool)
    for index, name in enumerate(names.tolist()):
        parts = name.split("/") if name else []
        for depth in range(len(parts), -1, -1):
            key = "/".join(parts[:depth]) if depth else "*"
            value = table.get(key) if depth else fallback
            if value is not None:
                per_name[index], per_listed[index] = value, True
                break
    return per_name[codes], per_listed[codes]


def fit_algorithm(
    interactions: Interactions, config: BatchConfig, x: sp.csr_matrix | None = None
) -> Recommender:
    """The configured algorithm, fitted on the interactions' weight matrix (with each item's
    repeat weight, for a model that takes them, and the window's sessions, for a model made
    of one fitting on them)."""
    x = user_item_matrix(interactions) if x is None else x
    model = create(config.algorithm, **algorithm_params(config))
    item_weight = (category_weights(interactions.item_category, config)[0]
                   if model.spec.item_weights else None)
    return model.fit(x, item_weight=item_weight, sessions=interactions.sessions)


def exclusions(
    model: Recommender, interactions: Interactions, config: BatchConfig,
) -> sp.csr_matrix | None:
    """Users x items pairs never to recommend: bought items that are not a repeat kind.

    The model's declaration decides (``Spec.repeats``): bought items are never recommended
    again, or always may be (a model of repeat purchases), or only where they are a
    repeat-purchase kind (a positive listed category weight). Viewed or carted ones may be,
    since they are still candidates for a purchase.
    """
    if model.spec.repeats == "always":
        return None
    bought = sp.csr_matrix(event_matrix(interactions) == PURCHASE + 1, dtype=np.float32)
    if model.spec.repeats == "by_category":
        weight, listed = category_weights(interactions.item_category, config)
        durable = (~(listed & (weight > 0))).astype(np.float32)
        bought = sp.csr_matrix(bought @ sp.diags(durable))
        bought.eliminate_zeros()
    return bought


def because_events(events: sp.csr_matrix, recs: UserRecommendations) -> np.ndarray:
    """The user's strongest event code on each recommendation's reason item (-1: none).

    Looked up a block of users at a time: one lookup over every list made index arrays of
    the lists' full length (at 1 M users, gigabytes)."""
    out = np.empty(recs.items.size, dtype=np.int8)
    for start in range(0, events.shape[0], DEFAULT_BLOCK_USERS):
        stop = min(start + DEFAULT_BLOCK_USERS, events.shape[0])
        lo, hi = int(recs.indptr[start]), int(recs.indptr[stop])
        if hi > lo:
            rows = np.repeat(np.arange(stop - start), np.diff(recs.indptr[start:stop + 1]))
            found = events[start:stop][rows, recs.because[lo:hi]]
            out[lo:hi] = np.asarray(found).ravel().astype(np.int8) - 1
    return out


def ranked_users(users: np.ndarray | None, n_users: int) -> np.ndarray | None:
    """``users`` as sorted distinct row indices in ``[0, n_users)`` (None: every user).

    Refuses a row outside the matrix rather than ranking some other user's row."""
    if users is None:
        return None
    rows = np.unique(np.asarray(users, dtype=np.int64))
    if rows.size and (rows[0] < 0 or rows[-1] >= n_users):
        raise ValueError(f"users must index the {n_users} users' rows, got "
                         f"{int(rows[0])}..{int(rows[-1])}")
    return rows


def ranks_each_user_alone(model: Recommender) -> bool:
    """Whether each user's list comes from their own row alone, whoever else is ranked.

    Not with a popularity prior (the blend's parameter its declaration marks
    ``new_items_only``) above 0: it takes as many popular candidates as the longest history
    in the user's ranking block needs, so a list's tail depends on the block's other users.
    """
    params = model.get_params()
    return not any(p.new_items_only and float(params.get(p.name) or 0.0) > 0
                   for p in model.spec.params)


def spread_lists(recs: UserRecommendations, rows: np.ndarray,
                 n_users: int) -> UserRecommendations:
    """Lists of the users at ``rows`` (sorted), as lists of all ``n_users``: the others' are
    empty. The columns are kept as they are (the rows are in order)."""
    counts = np.zeros(n_users, dtype=np.int64)
    counts[rows] = np.diff(recs.indptr)
    return UserRecommendations(indptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
                               items=recs.items, scores=recs.scores, because=recs.because)


def keep_lists(recs: UserRecommendations, because_event: np.ndarray,
               rows: np.ndarray) -> tuple[UserRecommendations, np.ndarray]:
    """Every user's lists with only those of the users at ``rows`` left, the others empty."""
    counts = np.diff(recs.indptr)
    kept = np.zeros(counts.size, dtype=bool)
    kept[rows] = True
    entries = np.repeat(kept, counts)
    return UserRecommendations(
        indptr=np.r_[0, np.cumsum(np.where(kept, counts, 0))].astype(np.int64),
        items=recs.items[entries], scores=recs.scores[entries],
        because=recs.because[entries]), because_event[entries]


def short_config(config: BatchConfig) -> BatchConfig | None:
    """The configuration short histories are ranked with: the model's discovery part
    replaced by ``short_discovery``. None when no route is configured (or it names the part
    everyone gets already)."""
    choices = catalog.discovery_choices(config.algorithm)
    if not config.short_discovery or all(getattr(config, c) == config.short_discovery
                                         for c in choices):
        return None
    parts: dict[str, Any] = dict.fromkeys(choices, config.short_discovery)
    return dataclasses.replace(config, short_discovery="", **parts)


def short_histories(x: sp.csr_matrix, config: BatchConfig) -> np.ndarray:
    """Whether each user's window holds at most ``short_history_items`` items."""
    return np.diff(x.indptr) <= config.short_history_items


def replace_lists(recs: UserRecommendations, at: np.ndarray,
                  lists: UserRecommendations) -> UserRecommendations:
    """``recs`` with the lists of the users at ``at`` (sorted positions) replaced by
    ``lists``' (one per position, in order)."""
    counts = np.diff(recs.indptr)
    replaced = np.zeros(counts.size, dtype=bool)
    replaced[at] = True
    new_counts = counts.copy()
    new_counts[at] = np.diff(lists.indptr)
    indptr = np.r_[0, np.cumsum(new_counts)].astype(np.int64)
    kept = np.repeat(~replaced, counts)
    into = np.repeat(replaced, new_counts)

    def merged(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        out = np.empty(int(indptr[-1]), dtype=old.dtype)
        out[~into] = old[kept]
        out[into] = new
        return out

    return UserRecommendations(indptr=indptr, items=merged(recs.items, lists.items),
                               scores=merged(recs.scores, lists.scores),
                               because=merged(recs.because, lists.because))


def routed_rows(x: sp.csr_matrix, config: BatchConfig,
                rows: np.ndarray | None = None) -> np.ndarray:
    """The users (sorted rows of ``x``, among ``rows`` when given) whose lists come from the
    short-history model: none when no route is configured."""
    if short_config(config) is None:
        return np.zeros(0, np.int64)
    short = np.flatnonzero(short_histories(x, config))
    return short if rows is None else np.intersect1d(short, rows, assume_unique=True)


def short_lists(x: sp.csr_matrix, short: np.ndarray, exclude: sp.csr_matrix | None,
                interactions: Interactions, config: BatchConfig,
                new_items: int) -> UserRecommendations | None:
    """The lists of the users at rows ``short`` from the model ``short_config`` describes,
    ranked by the same rules as everyone's (None when there is nobody to route)."""
    route = short_config(config)
    if route is None or short.size == 0:
        return None
    model = fit_algorithm(interactions, route, x)
    return recommend(model, sp.csr_matrix(x[short]), config.num_recommendations,
                     exclude=None if exclude is None else sp.csr_matrix(exclude[short]),
                     new_items=new_items)


def train(interactions: Interactions, config: BatchConfig,
          users: np.ndarray | None = None) -> Model:
    """The model version: fitted on every interaction, with lists for every user, or with
    ``users`` (row indices into ``interactions.user_ids``, in any order, repeats allowed)
    only theirs and empty lists for the others.

    The gate scores a shadow model on the users of its hold-out; ranking a million users
    it never reads was most of its time and memory. The ranking sees only those users' rows
    (and their exclusions), and each list is ranked from the user's own row, so theirs are
    the lists a full run gives them; a model whose lists depend on the other users ranked
    beside them (``ranks_each_user_alone``) ranks everyone and keeps theirs. The neighbours,
    trending lists and histories do not depend on ``users``. Shoppers with a short history
    get their lists from the short-history model when one is configured
    (``short_config``), and the others' lists are the ones they would get without it.
    """
    rows = ranked_users(users, interactions.n_users)
    x = user_item_matrix(interactions)
    model = fit_algorithm(interactions, config, x)
    similarity = model.item_similarity()
    if similarity is None:  # no item neighbours (ALS, popularity): similar items from cosine
        similarity = cosine(x, config.neighbours, config.shrinkage, config.cosine_alpha)
    exclude = exclusions(model, interactions, config)
    # Lists that may fill up with the user's history also carry new items (see
    # ``recommend``'s ``new_items``).
    new_items = config.num_recommendations // 2 if model.spec.new_items else 0
    # Short histories first, from their own discovery part when the tuning chose one: that
    # fit's scratch comes and goes before the main lists, the step's largest arrays, exist.
    # (All of them when a list depends on the others ranked beside it: the two models differ
    # only in their discovery part.)
    alone = ranks_each_user_alone(model)
    short = routed_rows(x, config, rows if alone else None)
    routed = short_lists(x, short, exclude, interactions, config, new_items)
    release_memory()
    # The rows the main model ranks: the users whose lists are kept, less the routed ones,
    # where each list comes from the user's own row alone; everyone otherwise.
    ranked = None
    if alone and (rows is not None or short.size):
        everyone = np.arange(interactions.n_users) if rows is None else rows
        ranked = np.setdiff1d(everyone, short, assume_unique=True)
    if ranked is None:
        recs = recommend(model, x, config.num_recommendations, exclude=exclude,
                         new_items=new_items)
    else:
        recs = recommend(model, x[ranked], config.num_recommendations,
                         exclude=None if exclude is None else sp.csr_matrix(exclude[ranked]),
                         new_items=new_items)
    # Each user's items, what a list of items new to them leaves out (the weights are not
    # needed: only which items).
    history_indptr, history_items = x.indptr.astype(np.int64), x.indices.astype(np.int32)
    del x, exclude  # the lists are the largest arrays from here on: make room
    release_memory()  # and what the ranking's worker threads freed
    # Every listed user's list, in row order: the main ones and the routed ones.
    listed = np.arange(interactions.n_users) if ranked is None else np.union1d(ranked, short)
    if ranked is not None:
        recs = spread_lists(recs, np.searchsorted(listed, ranked), listed.size)
    if routed is not None:
        recs = replace_lists(recs, np.searchsorted(listed, short), routed)
    del routed
    # Made again rather than held through the ranking, the train step's memory peak.
    events = event_matrix(interactions)
    if ranked is not None:
        because_event = because_events(sp.csr_matrix(events[listed]), recs)
        recs = spread_lists(recs, listed, interactions.n_users)
    else:
        because_event = because_events(events, recs)
        if rows is not None:
            recs, because_event = keep_lists(recs, because_event, rows)
    del events

    trending_items = trending.top_items(interactions.trending, config.trending_size)
    per_category = trending.by_category(
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
        similarity=sp.csr_matrix(similarity, dtype=np.float32),
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
        history_indptr=history_indptr,
        history_items=history_items,
    )
