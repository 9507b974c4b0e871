"""The gate's shadow model ranks only the users it scores, and scores exactly as a full one.

``train(..., users=rows)`` gives the users at ``rows`` the lists a full run gives them (and
everyone else none), so ``evaluate_step``'s metrics are those of the full shadow model.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.batch.config import BatchConfig
from recs.batch.evaluation import core, gate
from recs.batch.evaluation.split import ts_ms
from recs.batch.interactions import EVENT_CODE, Interactions
from recs.batch.model import Model
from recs.batch.recommend import recommend
from recs.batch.steps import as_of, midnight_ms
from recs.batch.steps.evaluate import evaluate_step
from recs.batch.steps.train import config_from_params, train_step
from recs.batch.steps.weight import weight_step
from recs.batch.training import fit_algorithm, ranks_each_user_alone, train, user_item_matrix
from recs.batch.weighting import DAY_MS, weight_events
from recs.batch.window import read_listed
from recs.contracts import layout
from recs.exceptions import ValidationError
from recs.formats import event_files
from recs.stores.memory import MemoryModelRegistry, MemoryObjectStore
from recs.stores.ports import ModelVersion
from recs_local import sample_data

END = datetime(2026, 11, 20, tzinfo=UTC)
USER_LISTS = ("rec_items", "rec_scores", "rec_because", "rec_because_event")
SHARED = ("user_ids", "item_ids", "trending_items", "trending_scores", "category_names",
          "category_indptr", "category_items", "category_scores", "history_indptr",
          "history_items")


def user_list(model: Model, row: int) -> tuple[list[Any], ...]:
    start, stop = int(model.rec_indptr[row]), int(model.rec_indptr[row + 1])
    return tuple(getattr(model, name)[start:stop].tolist() for name in USER_LISTS)


def assert_subset_of(full: Model, part: Model, rows: np.ndarray) -> None:
    """``part`` holds ``full``'s lists for ``rows``, none for the others, and the rest as is."""
    chosen = set(rows.tolist())
    for row in range(full.user_ids.size):
        if row in chosen:
            assert user_list(part, row) == user_list(full, row), row
        else:
            assert part.rec_indptr[row + 1] == part.rec_indptr[row], row
    for name in SHARED:
        assert np.array_equal(getattr(part, name), getattr(full, name)), name
    assert (part.similarity != full.similarity).nnz == 0


def sample_events() -> list[dict[str, Any]]:
    """A known shop: 150 shoppers over 28 days up to ``END``, a view-cart-purchase funnel."""
    return sample_data.generate(users=150, days=28, end=END)


def sample_interactions(config: BatchConfig) -> Interactions:
    table = event_files.table([{**e, "ts": int(datetime.fromisoformat(
        e["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)} for e in sample_events()])
    return weight_events(table, config, int(END.timestamp() * 1000))


@pytest.mark.parametrize("settings_", [
    {},  # the default blend
    {"blend_weight": 0.97, "num_recommendations": 6},  # lists topped up with new items
    {"blend_category_weights": {"*": 0.0, "groceries": 0.8}},  # repeat kinds
    {"algorithm": "rp3beta"},
    {"algorithm": "cosine", "num_recommendations": 4},
    {"blend_popularity": 0.3},  # its lists depend on the block: ranked whole, then kept
    {"short_discovery": "cosine", "short_history_items": 4},  # short histories routed
    {"short_discovery": "cosine", "short_history_items": 4, "blend_popularity": 0.3},
], ids=["blend", "top-up", "repeat-kinds", "rp3beta", "cosine", "popularity-prior",
        "short-route", "short-route-popularity-prior"])
def test_chosen_users_get_the_full_runs_lists_on_a_known_shop(settings_: dict[str, Any]
                                                              ) -> None:
    config = dataclasses.replace(BatchConfig(), **settings_)
    interactions = sample_interactions(config)
    full = train(interactions, config)
    rows = np.arange(1, interactions.n_users, 3)
    part = train(interactions, config, users=rows[::-1])  # any order, sorted inside
    assert rows.size > 40 and full.rec_items.size > part.rec_items.size > 0
    assert_subset_of(full, part, rows)


def test_the_popularity_prior_is_the_one_setting_that_needs_every_user_ranked() -> None:
    """u1 (item 3) ranked alone takes the prior's best 2 + 1 items (0, 2, 3 by users); in
    the full run u3's three items make it 5, and item 1, u3's with item 3, gains its prior."""
    weights = np.array([[0.5, 0, 0, 0], [0, 0, 0, 3], [0, 0, 0.5, 0], [2, 3, 0, 3],
                        [0, 0, 1, 0]], np.float32)
    user, item = np.nonzero(weights)
    interactions = Interactions(
        user_ids=np.array(["u0", "u1", "u2", "u3", "u4"]),
        item_ids=np.array(["i0", "i1", "i2", "i3"]), user_index=user.astype(np.int32),
        item_index=item.astype(np.int32), weight=weights[user, item],
        top_event=np.full(user.size, EVENT_CODE["view"], np.int8),
        item_category=np.array([""] * 4), trending=np.ones(4, np.float32))
    prior = BatchConfig(num_recommendations=2, blend_popularity=0.3)
    model = fit_algorithm(interactions, prior)
    assert not ranks_each_user_alone(model)
    alone = recommend(model, user_item_matrix(interactions)[[1]], 2, new_items=1)
    assert alone.items.tolist() == [3, 0]
    full, part = train(interactions, prior), train(interactions, prior, users=np.array([1]))
    assert user_list(full, 1)[0] == user_list(part, 1)[0] == [3, 1]
    assert ranks_each_user_alone(fit_algorithm(interactions, BatchConfig()))


def test_no_users_and_rows_outside_the_matrix() -> None:
    config = BatchConfig()
    interactions = sample_interactions(config)
    empty = train(interactions, config, users=np.zeros(0, np.int64))
    assert empty.rec_items.size == 0 and empty.rec_indptr.size == interactions.n_users + 1
    with pytest.raises(ValueError, match="rows"):
        train(interactions, config, users=np.array([interactions.n_users]))


@st.composite
def shops(draw: st.DrawFn) -> tuple[Interactions, np.ndarray]:
    """Random small interactions (weights, strongest events, categories) and chosen rows."""
    n_users, n_items = draw(st.integers(1, 25)), draw(st.integers(2, 30))
    cells = draw(st.lists(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1),
                                    st.sampled_from([0.5, 1.0, 2.0, 4.0]),
                                    st.integers(0, 3)),
                          min_size=1, max_size=120, unique_by=lambda c: (c[0], c[1])))
    user, item, weight, event = (np.array(column) for column in zip(*cells, strict=True))
    chosen = draw(st.lists(st.booleans(), min_size=n_users, max_size=n_users))
    return Interactions(
        user_ids=np.array([f"u{k}" for k in range(n_users)]),
        item_ids=np.array([f"i{k}" for k in range(n_items)]),
        user_index=user.astype(np.int32), item_index=item.astype(np.int32),
        weight=weight.astype(np.float32), top_event=event.astype(np.int8),
        item_category=np.array([f"c{k % 3}" for k in range(n_items)]),
        trending=np.linspace(1.0, 0.1, n_items, dtype=np.float32)), np.flatnonzero(chosen)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shop=shops(), algorithm=st.sampled_from(["blend", "cosine", "rp3beta", "bm25"]),
       n=st.integers(1, 8), blend_weight=st.sampled_from([0.0, 0.5, 0.97]),
       popularity=st.sampled_from([0.0, 0.3]),
       repeat=st.sampled_from([{}, {"c1": 0.7}]), short=st.sampled_from(["", "cosine"]))
def test_any_shop_any_users_the_full_runs_lists(shop: tuple[Interactions, np.ndarray],
                                                algorithm: str, n: int, blend_weight: float,
                                                popularity: float, repeat: dict[str, float],
                                                short: str) -> None:
    interactions, rows = shop
    config = BatchConfig(algorithm=algorithm, neighbours=5, num_recommendations=n,
                         blend_weight=blend_weight, blend_popularity=popularity,
                         blend_category_weights=repeat, trending_size=5,
                         short_discovery=short if algorithm == "blend" else "")
    assert_subset_of(train(interactions, config), train(interactions, config, users=rows),
                     rows)


def copied_split(events: pa.Table, as_of_ms: int, days: float) -> tuple[pa.Table, pa.Table]:
    """The hold-out split by two filters: the window, then the cut."""
    window = events.filter(pa.array(ts_ms(events) < as_of_ms))
    before = ts_ms(window) < as_of_ms - days * DAY_MS
    return window.filter(pa.array(before)), window.filter(pa.array(~before))


@pytest.mark.parametrize("order", ["by-day", "shuffled"])
def test_the_holdout_split_is_the_filtered_one_sliced_where_it_can_be(order: str) -> None:
    table = event_files.table([{**e, "ts": int(datetime.fromisoformat(
        e["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)} for e in sample_events()])
    if order == "shuffled":
        table = table.take(pa.array(np.random.default_rng(3).permutation(table.num_rows)))
    as_of_ms = int((END - timedelta(days=2)).timestamp() * 1000)  # later events: left out
    split = gate.holdout_split(table, as_of_ms, days=3)
    before, test = copied_split(table, as_of_ms, 3)
    assert split.train.equals(before) and split.test.equals(test)
    assert before.num_rows > test.num_rows > 0
    assert split.as_of_ms == as_of_ms - 3 * DAY_MS
    # In date order the training part shares the table's buffers; the hold-out never does.
    shared = split.train["user_id"].chunks[0].buffers()[1].address == (
        table["user_id"].chunks[0].buffers()[1].address)
    assert shared == (order == "by-day")
    with pytest.raises(ValidationError):
        gate.holdout_split(table.slice(0, 1), as_of_ms)


def land_sample_shop(objects: MemoryObjectStore) -> None:
    """The sample shop's events, one lander file per day."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for event in sample_events():
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        by_day.setdefault(at.date().isoformat(), []).append(
            {**event, "ts": int(at.timestamp() * 1000)})
    for day, events in by_day.items():
        objects.put(layout.event_file(day, day.replace("-", "")), event_files.encode(events))


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 5) for k, v in metrics.items()}


@pytest.mark.parametrize("settings_", [{}, {"blend_popularity": 0.3}],
                         ids=["blend", "popularity-prior"])
def test_evaluate_scores_the_subset_shadow_as_the_full_one(settings_: dict[str, Any]) -> None:
    config = dataclasses.replace(BatchConfig(tuning_seconds=0, holdout_days=3), **settings_)
    objects, registry = MemoryObjectStore(), MemoryModelRegistry()
    land_sample_shop(objects)
    day: date = END.date() + timedelta(days=1)
    state = train_step(weight_step({"as_of": day.isoformat()}, objects, config), objects,
                       config)
    # What the gate had with a shadow ranking every user, and a live model (popularity,
    # trained before the hold-out) to compare with.
    candidate = config_from_params(json.loads(objects.get(state["params_key"])))
    as_of_ms = midnight_ms(as_of(state))
    split = gate.holdout_split(read_listed(objects, state["window_key"]), as_of_ms,
                               config.holdout_days)
    start = int(as_of_ms - config.holdout_days * DAY_MS)
    before = weight_events(split.train, candidate, start)
    full_shadow = train(before, candidate)
    live = train(before, dataclasses.replace(candidate, algorithm="popularity"))
    objects.put(layout.model("v-live"), live.to_bytes())
    registry.put_version(ModelVersion("v-live", "exported", "2026-11-10T03:00:00Z",
                                      window_end="2026-11-10"))
    registry.promote("v-live", None, "2026-11-10T03:10:00Z")

    evaluated = evaluate_step(state, objects, registry, config)
    metrics = evaluated["metrics"]
    assert metrics["holdout_events"] > 0 and metrics["candidate"]["users"] > 10
    assert metrics["candidate"] == rounded(gate.score_model(full_shadow, split.test, candidate))
    assert metrics["live"] == rounded(gate.score_model(live, split.test, candidate))
    assert metrics["live_version"] == "v-live"
    assert evaluated["gate"] == dict(zip(("ok", "reason"), gate.compare(
        metrics["candidate"], metrics["live"], config.gate_margin), strict=True))
    assert metrics["candidate"]["ndcg"] > 0


def loop_ranker(model: Model, user_ids: np.ndarray, item_ids: np.ndarray,
                history: sp.csr_matrix | None) -> core.Ranker:
    """The served list, user by user: the model's list, the trending items it lacks when it
    is short of ``k``, known items only, no repeats, the user's history out if asked."""
    to_eval = core.index_of(item_ids, model.item_ids)
    model_row = core.index_of(model.user_ids, user_ids)
    trending = to_eval[model.trending_items]
    trending = trending[trending >= 0]

    def rank(users: np.ndarray, k: int, filter_known: bool) -> np.ndarray:
        out = np.full((users.size, k), -1, dtype=np.int64)
        for slot, user in enumerate(users.tolist()):
            row = model_row[user] if user >= 0 else -1
            items = (to_eval[model.rec_items[model.rec_indptr[row]:model.rec_indptr[row + 1]]]
                     if row >= 0 else np.zeros(0, np.int64))
            if items.size < k:
                items = np.r_[items, trending[~np.isin(trending, items)]]
            items = items[items >= 0]
            _, first = np.unique(items, return_index=True)
            items = items[np.sort(first)]
            if filter_known and history is not None and user >= 0:
                h = history[user]
                items = items[~np.isin(items, h.indices[h.data > 0])]
            out[slot, :min(k, items.size)] = items[:k]
        return out

    return rank


@st.composite
def served(draw: st.DrawFn) -> tuple[Model, np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """A model's lists (repeats and all), another index of users and items that shares only
    some of them, a history in that index, and users to rank (-1: unknown)."""
    n_model_users, n_model_items = draw(st.integers(0, 8)), draw(st.integers(1, 10))
    lists = [draw(st.lists(st.integers(0, n_model_items - 1), max_size=7))
             for _ in range(n_model_users)]
    trending = draw(st.lists(st.integers(0, n_model_items - 1), max_size=5, unique=True))
    model_users = np.array([f"u{k}" for k in range(n_model_users)], dtype=str)
    model_items = np.array([f"i{k}" for k in range(n_model_items)], dtype=str)
    user_ids = np.array(draw(st.permutations(
        [f"u{k}" for k in range(draw(st.integers(0, n_model_users + 3)))])), dtype=str)
    item_ids = np.array(draw(st.permutations(
        [f"i{k}" for k in range(draw(st.integers(1, n_model_items + 3)))])), dtype=str)
    cells = draw(st.lists(st.tuples(st.integers(0, max(user_ids.size - 1, 0)),
                                    st.integers(0, item_ids.size - 1),
                                    st.sampled_from([0.0, 1.0, 2.0])), max_size=20))
    history = sp.csr_matrix(
        ([c[2] for c in cells], ([c[0] for c in cells], [c[1] for c in cells])),
        shape=(user_ids.size, item_ids.size), dtype=np.float32) if user_ids.size else (
        sp.csr_matrix((0, item_ids.size), dtype=np.float32))
    users = np.array(draw(st.lists(st.integers(-1, user_ids.size - 1), max_size=12)),
                     dtype=np.int64)
    model = Model(
        user_ids=model_users, item_ids=model_items,
        similarity=sp.csr_matrix((n_model_items, n_model_items), dtype=np.float32),
        rec_indptr=np.r_[0, np.cumsum([len(x) for x in lists])].astype(np.int64),
        rec_items=np.array([i for x in lists for i in x], dtype=np.int32),
        rec_scores=np.zeros(sum(len(x) for x in lists), np.float32),
        rec_because=np.zeros(sum(len(x) for x in lists), np.int32),
        rec_because_event=np.zeros(sum(len(x) for x in lists), np.int8),
        trending_items=np.array(trending, dtype=np.int32),
        trending_scores=np.ones(len(trending), np.float32),
        category_names=np.zeros(0, str), category_indptr=np.zeros(1, np.int64),
        category_items=np.zeros(0, np.int32), category_scores=np.zeros(0, np.float32))
    return model, user_ids, item_ids, history, users


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=served(), k=st.integers(0, 9), filter_known=st.booleans(),
       with_history=st.booleans())
def test_the_served_lists_as_arrays_are_the_lists_user_by_user(case, k: int,
                                                                filter_known: bool,
                                                                with_history: bool) -> None:
    model, user_ids, item_ids, history, users = case
    known = history if with_history else None
    got = core.model_ranker(model, user_ids, item_ids, known)(users, k, filter_known)
    want = loop_ranker(model, user_ids, item_ids, known)(users, k, filter_known)
    assert got.shape == want.shape == (users.size, k)
    assert np.array_equal(got, want)
    same = core.model_ranker(model, model.user_ids, model.item_ids)
    rows = np.arange(model.user_ids.size)
    assert np.array_equal(same(rows, k, False),
                          loop_ranker(model, model.user_ids, model.item_ids, None)(rows, k, False))
