"""The window's sessions, and the session kNN that fits on them.

Known answer: two shoppers' visits. Ann viewed a tent and a stove in one visit and, a day
later, a kettle; Bob viewed a tent and a lamp one minute apart. A session is a run of events
less than 30 minutes apart, so Ann has two sessions and Bob one, and the kettle visit (one
item) is no neighbour to anything. A newcomer who viewed a tent is most like the two tent
sessions: session kNN offers the stove and the lamp, not the kettle, which shopper kNN (over
Ann's whole history) offers beside them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from recs.algorithms.base import RecommenderError
from recs.algorithms.registry import create
from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.sessions import SESSION_GAP_MS, session_matrix, session_of_events
from recs.batch.training import train
from recs.batch.weighting import weight_events

MINUTE, DAY = 60_000, 86_400_000
T0 = 1_700_000_000_000


def events(rows: list[tuple[str, str, int]]) -> pa.Table:
    n = len(rows)
    return pa.table({
        "event_id": [f"e{i}" for i in range(n)], "user_id": [r[0] for r in rows],
        "session_id": pa.nulls(n, pa.string()), "item_id": [r[1] for r in rows],
        "event_type": ["view"] * n,
        "ts": pa.array([T0 + r[2] for r in rows], pa.timestamp("ms", tz="UTC")),
        "category": pa.nulls(n, pa.string())})


SHOP = [("ann", "tent", 0), ("ann", "stove", 5 * MINUTE), ("ann", "kettle", DAY),
        ("bob", "tent", 2 * DAY), ("bob", "lamp", 2 * DAY + MINUTE),
        ("new", "tent", 3 * DAY)]


def names(model_items: list[int], interactions: Interactions) -> set[str]:
    return {str(interactions.item_ids[i]) for i in model_items}


def test_sessions_are_runs_of_events_less_than_thirty_minutes_apart() -> None:
    user = np.array([0, 0, 0, 1, 1, 0])
    ts = np.array([0, 29 * MINUTE, 59 * MINUTE, 0, SESSION_GAP_MS, 10 * DAY])
    assert session_of_events(user, ts).tolist() == [0, 0, 1, 3, 4, 2]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 200)),
                max_size=40))
def test_a_session_row_holds_its_positive_weights_of_two_items_or_more(
        rows: list[tuple[int, int, int]]) -> None:
    session = np.array([r[0] for r in rows], np.int64)
    item = np.array([r[1] for r in rows], np.int64)
    weight = np.array([r[2] - 50 for r in rows], np.float64)  # some not positive
    m = session_matrix(session, item, weight, 6).toarray()
    expected = []
    for s in sorted(set(session.tolist())):
        row = np.zeros(6)
        for i, w in zip(item[session == s], weight[session == s], strict=True):
            if w > 0:
                row[i] += w
        if np.count_nonzero(row) >= 2:
            expected.append(row)
    np.testing.assert_allclose(m, np.array(expected).reshape(-1, 6), rtol=1e-6)


def test_the_weighting_makes_sessions_only_for_a_model_fitting_on_them() -> None:
    plain = weight_events(events(SHOP), BatchConfig(), T0 + 4 * DAY)
    assert plain.sessions is None
    config = BatchConfig(short_discovery="sknn_sessions")
    interactions = weight_events(events(SHOP), config, T0 + 4 * DAY)
    assert interactions.sessions is not None
    rows = [names(interactions.sessions[r].indices.tolist(), interactions)
            for r in range(interactions.sessions.shape[0])]
    assert rows == [{"tent", "stove"}, {"tent", "lamp"}]  # ann's kettle visit: one item
    again = Interactions.from_bytes(interactions.to_bytes())
    assert again.sessions is not None
    assert (again.sessions != interactions.sessions).nnz == 0


def test_session_knn_offers_what_similar_sessions_held_and_shopper_knn_more() -> None:
    config = BatchConfig(short_discovery="sknn_sessions")
    interactions = weight_events(events(SHOP), config, T0 + 4 * DAY)
    x = sp.csr_matrix((interactions.weight, (interactions.user_index, interactions.item_index)),
                      shape=(interactions.n_users, interactions.n_items))
    new = int(np.flatnonzero(interactions.user_ids == "new")[0])
    sessions = create("sknn_sessions").fit(x, sessions=interactions.sessions)
    shoppers = create("sknn").fit(x)
    found = sessions.rank(x[new], 5, filter_already_liked_items=True)
    assert names(found.items.tolist(), interactions) == {"stove", "lamp"}
    found = shoppers.rank(x[new], 5, filter_already_liked_items=True)
    assert names(found.items.tolist(), interactions) == {"stove", "lamp", "kettle"}


def test_a_session_model_without_sessions_is_refused_by_name() -> None:
    with pytest.raises(RecommenderError, match="sknn_sessions fits on sessions"):
        create("sknn_sessions").fit(sp.csr_matrix(np.eye(3, dtype=np.float32)))


def test_a_blend_routes_short_histories_to_session_knn_end_to_end() -> None:
    config = BatchConfig(short_discovery="sknn_sessions", blend_weight=0.5)
    interactions = weight_events(events(SHOP), config, T0 + 4 * DAY)
    model = train(interactions, config)
    row = int(np.flatnonzero(model.user_ids == "new")[0])
    p = model.rec_indptr
    assert names(model.rec_items[p[row]:p[row + 1]].tolist(), interactions) >= {"stove", "lamp"}
