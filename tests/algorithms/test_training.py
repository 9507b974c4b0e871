"""``train()`` with the configured algorithm keeps the reason contract (rice/milk/lamb)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recs.batch.config import BatchConfig
from recs.batch.interactions import EVENT_CODE, EVENT_RANK
from recs.batch.model import Model
from recs.batch.recommend import UserRecommendations
from recs.batch.training import category_weights, replace_lists, train
from recs.batch.weighting import weight_events
from recs.exceptions import ConfigError

T0 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
AS_OF = T0 + 10 * 86_400_000


def events(rows: list[tuple[str, str, str, int, str]]) -> pa.Table:
    """(user, item, event type, hour, category) rows as an EVENT_COLUMNS table."""
    return pa.table({
        "event_id": [f"e{i}" for i in range(len(rows))],
        "user_id": [r[0] for r in rows],
        "session_id": pa.nulls(len(rows), pa.string()),
        "item_id": [r[1] for r in rows],
        "event_type": [r[2] for r in rows],
        "ts": pa.array([T0 + r[3] * 3_600_000 for r in rows], pa.int64()),
        "category": [r[4] for r in rows],
    })


def rice_milk_lamb() -> pa.Table:
    return events([
        ("A", "rice", "purchase", 1, "groceries/staples"),
        ("A", "milk", "purchase", 2, "groceries/dairy"),
        ("A", "lamb", "purchase", 3, "groceries/meat"),
        ("C", "rice", "purchase", 4, "groceries/staples"),
        ("C", "milk", "purchase", 5, "groceries/dairy"),
        ("B", "tv", "view", 6, "electronics"),
        ("B", "cable", "purchase", 7, "electronics"),
    ])


def lists(model: Model, user: str) -> list[tuple[str, str, str]]:
    row = model.user_ids.tolist().index(user)
    start, stop = model.rec_indptr[row], model.rec_indptr[row + 1]
    items = model.item_ids
    return [(str(items[i]), str(items[b]), EVENT_RANK[e]) for i, b, e in zip(
        model.rec_items[start:stop], model.rec_because[start:stop],
        model.rec_because_event[start:stop], strict=True)]


@pytest.mark.parametrize("algorithm", ["blend", "cosine", "bm25", "tfidf", "swing", "rp3beta",
                                       "rp3beta+als"])
def test_rice_milk_lamb_known_answer(algorithm: str) -> None:
    config = BatchConfig(algorithm=algorithm, neighbours=10)
    model = train(weight_events(rice_milk_lamb(), config, AS_OF), config)
    got = lists(model, "C")
    lamb = [g for g in got if g[0] == "lamb"]
    if algorithm == "swing":  # swing needs two users sharing two items *and* lamb: none
        return
    assert lamb, f"{algorithm}: C was not recommended lamb: {got}"
    assert lamb[0][1] in ("rice", "milk") and lamb[0][2] == "purchase"
    items = model.item_ids.tolist()
    rice = items.index("rice")
    sim = model.similarity
    neighbours = [items[j] for j in sim.indices[sim.indptr[rice]:sim.indptr[rice + 1]]]
    assert "milk" in neighbours
    # bought items are not recommended again unless a repeat kind: nothing is one here
    assert not {g[0] for g in got} & {"rice", "milk"}


def test_every_recommendation_names_a_history_item_and_its_event() -> None:
    config = BatchConfig(blend_weight=0.5)
    interactions = weight_events(rice_milk_lamb(), config, AS_OF)
    model = train(interactions, config)
    x_users = interactions.user_index
    for row, user in enumerate(model.user_ids.tolist()):
        history = set(interactions.item_index[x_users == row].tolist())
        start, stop = model.rec_indptr[row], model.rec_indptr[row + 1]
        for item, because, event in zip(model.rec_items[start:stop],
                                        model.rec_because[start:stop],
                                        model.rec_because_event[start:stop], strict=True):
            assert because in history, user
            pair = (interactions.user_index == row) & (interactions.item_index == because)
            assert event == interactions.top_event[pair][0]
            if item in history:
                assert because == item  # a repeat names itself


def test_repeat_kinds_come_back_and_durables_do_not() -> None:
    table = events([
        ("A", "milk", "purchase", 1, "groceries"), ("A", "tv", "purchase", 2, "electronics"),
        ("B", "milk", "purchase", 3, "groceries"), ("B", "tv", "purchase", 4, "electronics"),
        ("B", "bread", "purchase", 5, "groceries"),
    ])
    config = BatchConfig(blend_weight=0.5,
                         blend_category_weights={"groceries": 0.9, "electronics": 0.0})
    model = train(weight_events(table, config, AS_OF), config)
    got = {g[0]: g for g in lists(model, "A")}
    assert "milk" in got and got["milk"][1] == "milk"  # a repeat names itself
    assert "tv" not in got
    assert "bread" in got


def test_category_weights_most_specific_path_wins() -> None:
    config = BatchConfig(blend_weight=0.2, blend_category_weights={
        "food": 0.8, "food/dairy": 0.9, "*": 0.5})
    cats = np.array(["food/dairy/milk", "food/meat", "tools", ""])
    weights, listed = category_weights(cats, config)
    assert weights.tolist() == pytest.approx([0.9, 0.8, 0.5, 0.5])
    assert listed.all()
    w, listed = category_weights(cats, dataclasses.replace(config, blend_category_weights={}))
    assert w.tolist() == pytest.approx([0.2] * 4) and not listed.any()


def test_model_round_trip_keeps_lists() -> None:
    config = BatchConfig()
    model = train(weight_events(rice_milk_lamb(), config, AS_OF), config)
    again = Model.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(again.rec_items, model.rec_items)
    np.testing.assert_array_equal(again.rec_because, model.rec_because)


def test_config_fields_from_env_and_validation() -> None:
    config = BatchConfig.from_env({
        "RECS_ALGORITHM": "swing", "RECS_BLEND_WEIGHT": "0.7",
        "RECS_BLEND_CATEGORY_WEIGHTS": '{"food": 0.9}', "RECS_DISCOVERY": "bm25",
        "RECS_BM25_K1": "2.0"})
    assert config.algorithm == "swing" and config.blend_weight == 0.7
    assert config.blend_category_weights == {"food": 0.9} and config.bm25_k1 == 2.0
    with pytest.raises(ConfigError, match="RECS_ALGORITHM"):
        BatchConfig.from_env({"RECS_ALGORITHM": "magic"})
    with pytest.raises(ConfigError, match="RECS_BLEND_WEIGHT"):
        BatchConfig(blend_weight=1.5)
    with pytest.raises(ConfigError, match="RECS_BLEND_CATEGORY_WEIGHTS"):
        BatchConfig.from_env({"RECS_BLEND_CATEGORY_WEIGHTS": "[1, 2]"})
    with pytest.raises(ConfigError, match="RECS_DISCOVERY"):
        BatchConfig(discovery="blend")
    assert EVENT_CODE["purchase"] == 5


def test_a_short_history_route_names_a_discovery_model_of_a_model_with_a_discovery_part(
) -> None:
    config = BatchConfig.from_env({"RECS_SHORT_DISCOVERY": "sknn",
                                   "RECS_SHORT_HISTORY_ITEMS": "2"})
    assert config.short_discovery == "sknn" and config.short_history_items == 2
    assert BatchConfig(short_discovery="rp3beta+als").short_discovery == "rp3beta+als"
    with pytest.raises(ConfigError, match="RECS_SHORT_DISCOVERY"):
        BatchConfig(short_discovery="blend")
    with pytest.raises(ConfigError, match="RECS_SHORT_DISCOVERY"):
        BatchConfig(algorithm="cosine", short_discovery="sknn")
    with pytest.raises(ConfigError, match="RECS_SHORT_HISTORY_ITEMS"):
        BatchConfig(short_history_items=-1)


def test_repeat_heavy_lists_still_carry_new_items() -> None:
    """A high repeat weight fills the list with the user's history; new items are appended
    below it (the head is unchanged) so a list without the history is not empty."""
    from recs.algorithms import registry as A
    from recs.batch.recommend import recommend
    from tests.algorithms.conftest import checkerboard

    board = checkerboard()
    model = A.create("blend", weight=0.99, discovery="cosine",
                     discovery_params={"neighbours": 10}).fit(board)
    base = recommend(model, board, 3)
    more = recommend(model, board, 3, new_items=2)
    for user in range(board.shape[0]):
        head = base.items[base.indptr[user]:base.indptr[user + 1]].tolist()
        got = more.items[more.indptr[user]:more.indptr[user + 1]].tolist()
        assert got[:len(head)] == head
        assert len(set(got)) == len(got)
        new = [i for i in got if i not in set(board[user].indices)]
        assert len(new) >= 2 and all(i % 2 == user % 2 for i in new)
        scores = more.scores[more.indptr[user]:more.indptr[user + 1]]
        assert np.all(np.diff(scores) <= 1e-6)


def test_als_config_and_blend_with_als_discovery_trains() -> None:
    config = BatchConfig.from_env({
        "RECS_DISCOVERY": "als", "RECS_ALS_FACTORS": "4", "RECS_ALS_REGULARIZATION": "0.1",
        "RECS_ALS_ALPHA": "2.0", "RECS_ALS_ITERATIONS": "5", "RECS_BLEND_WEIGHT": "0.3"})
    assert (config.als_factors, config.als_regularization, config.als_alpha,
            config.als_iterations) == (4, 0.1, 2.0, 5)
    for bad in ({"als_factors": 0}, {"als_iterations": 0}, {"als_alpha": 0.0},
                {"als_regularization": -1.0}):
        with pytest.raises(ConfigError, match="RECS_ALS_"):
            BatchConfig(**bad)  # type: ignore[arg-type]
    # ALS has no item similarity: similar items fall back to cosine, lists still train
    model = train(weight_events(rice_milk_lamb(), config, AS_OF), config)
    assert model.similarity.shape == (model.item_ids.size, model.item_ids.size)
    assert model.rec_indptr[-1] > 0


def test_blend_with_an_ensemble_discovery_trains_with_neighbour_reasons() -> None:
    config = BatchConfig.from_env({"RECS_DISCOVERY": "rp3beta+als", "RECS_ALS_FACTORS": "4",
                                   "RECS_BLEND_WEIGHT": "0.3", "RECS_NEIGHBOURS": "10"})
    model = train(weight_events(rice_milk_lamb(), config, AS_OF), config)
    lamb = [g for g in lists(model, "C") if g[0] == "lamb"]
    assert lamb and lamb[0][1] in ("rice", "milk")  # the reason names a co-bought item
    items = model.item_ids.tolist()
    sim = model.similarity  # "customers also viewed" comes from the RP3beta member
    rice = items.index("rice")
    assert "milk" in [items[j] for j in sim.indices[sim.indptr[rice]:sim.indptr[rice + 1]]]


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_user_lists_do_not_depend_on_threads_or_block_size(threads: str, monkeypatch) -> None:
    from recs.algorithms import registry as A
    from recs.batch.recommend import recommend
    from tests.algorithms.conftest import checkerboard

    board = checkerboard()
    model = A.create("blend", weight=0.9, discovery="cosine",
                     discovery_params={"neighbours": 10}).fit(board)
    whole = recommend(model, board, 5, new_items=3)
    monkeypatch.setenv("RECS_THREADS", threads)
    blocked = recommend(model, board, 5, block_users=3, new_items=3)
    for name in ("indptr", "items", "scores", "because"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    assert np.diff(whole.indptr).max() > 5  # the top-up ran


def test_reason_events_do_not_depend_on_the_lookup_block(monkeypatch) -> None:
    """Each list entry's reason event is the user's strongest event on the reason item,
    however many users are looked up at a time."""
    from recs.batch import training

    config = BatchConfig(neighbours=10)
    interactions = weight_events(rice_milk_lamb(), config, AS_OF)
    whole = train(interactions, config)
    monkeypatch.setattr(training, "DEFAULT_BLOCK_USERS", 1)
    blocked = train(interactions, config)
    np.testing.assert_array_equal(blocked.rec_because_event, whole.rec_because_event)
    events = training.event_matrix(interactions).toarray()
    rows = np.repeat(np.arange(whole.user_ids.size), np.diff(whole.rec_indptr))
    expected = events[rows, whole.rec_because].astype(np.int8) - 1
    np.testing.assert_array_equal(whole.rec_because_event, expected)
    assert whole.rec_because_event.size > 0 and (whole.rec_because_event >= 0).all()


def _lists(lengths: list[int], start: int) -> UserRecommendations:
    """Lists of consecutive numbers from ``start`` (each entry unique, so moves show)."""
    n = int(sum(lengths))
    values = np.arange(start, start + n)
    return UserRecommendations(indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64),
                               items=values.astype(np.int32),
                               scores=values.astype(np.float32),
                               because=-values.astype(np.int32))


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.integers(0, 5)), max_size=30))
def test_replacing_some_users_lists_keeps_everyone_else_s_in_place(
        users: list[tuple[int, bool, int]]) -> None:
    recs = _lists([old for old, _, _ in users], 0)
    at = np.asarray([u for u, (_, replaced, _) in enumerate(users) if replaced], dtype=np.int64)
    new = _lists([n for _, replaced, n in users if replaced], 1000)
    out = replace_lists(recs, at, new)
    taken = iter(range(at.size))
    for u, (_, replaced, _) in enumerate(users):
        source, row = (new, next(taken)) if replaced else (recs, u)
        lo, hi = source.indptr[row], source.indptr[row + 1]
        mine = slice(out.indptr[u], out.indptr[u + 1])
        for column in ("items", "scores", "because"):
            np.testing.assert_array_equal(getattr(out, column)[mine],
                                          getattr(source, column)[lo:hi])
