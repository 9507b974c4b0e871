"""Simulated short histories: a hashed sample of test users cut to their last events before
anything trains, and the cohorts the discovery report scores."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from recs.batch.config import BatchConfig
from recs.batch.evaluation import core
from recs.batch.evaluation.split import Split, hash_fraction, shorten_histories, ts_ms
from recs.batch.weighting import user_keys
from recs_local.evaluation import discovery, loaders


def events(rows: list[tuple[str, str, int]]) -> pa.Table:
    n = len(rows)
    return loaders._table(
        n, user=pa.array([r[0] for r in rows]), item=pa.array([r[1] for r in rows]),
        event_type=pa.array(["purchase"] * n), ts_ms=np.array([r[2] for r in rows]))


def keys(table: pa.Table) -> list[str]:
    return [str(k) for k in user_keys(table).to_pylist()]


def test_every_test_user_in_the_sample_keeps_their_last_three_events() -> None:
    # a: five events (stored out of time order), b: two, c: only in training, d: only in test.
    train = events([("a", "i1", 1), ("a", "i5", 5), ("a", "i2", 2), ("a", "i4", 4),
                    ("a", "i3", 3), ("b", "j1", 1), ("b", "j2", 2), ("c", "k1", 1),
                    ("c", "k2", 2), ("c", "k3", 3), ("c", "k4", 4)])
    test = events([("a", "t", 10), ("b", "t", 10), ("d", "t", 10)])
    split = Split(train, test, 10, "last-basket")
    cut, cohort = shorten_histories(split, share=1.0)
    assert cohort.tolist() == ["a", "b"]
    kept = sorted(zip(keys(cut.train), cut.train["item_id"].to_pylist(), strict=True))
    assert kept == [("a", "i3"), ("a", "i4"), ("a", "i5"), ("b", "j1"), ("b", "j2"),
                    ("c", "k1"), ("c", "k2"), ("c", "k3"), ("c", "k4")]
    assert cut.test is split.test and cut.as_of_ms == split.as_of_ms


def test_no_share_leaves_the_split_alone() -> None:
    split = Split(events([("a", "x", 1)]), events([("a", "y", 2)]), 2, "last-basket")
    cut, cohort = shorten_histories(split, share=0.0)
    assert cut is split and cohort.size == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 9), st.integers(0, 50)),
                min_size=1, max_size=120),
       st.floats(0.05, 1.0), st.integers(1, 4))
def test_the_cut_keeps_the_latest_events_of_the_sample_only(
        rows: list[tuple[int, int, int]], share: float, keep: int) -> None:
    train = events([(f"u{u}", f"i{i}", t) for u, i, t in rows])
    test = events([(f"u{u}", "t", 100) for u in range(0, 31, 2)])
    split = Split(train, test, 100, "global-time")
    cut, cohort = shorten_histories(split, share, keep=keep, min_users=0)
    # The sample is the hash's choice: the same users on every call, whatever else is there.
    assert np.array_equal(cohort, split.test_users[hash_fraction(split.test_users) < share])
    before, after = np.array(keys(train)), np.array(keys(cut.train))
    t_before, t_after = ts_ms(train), ts_ms(cut.train)
    for user in np.unique(before):
        mine = np.sort(t_before[before == user])
        kept = np.sort(t_after[after == user])
        if user in cohort:
            assert kept.tolist() == mine[-keep:].tolist()
        else:
            assert kept.tolist() == mine.tolist()


def test_a_small_test_set_gets_a_larger_share_up_to_a_third() -> None:
    users = [f"user-{n}" for n in range(600)]
    train = events([(u, "x", 1) for u in users])
    test = events([(u, "y", 2) for u in users])
    split = Split(train, test, 2, "global-time")
    _, cohort = shorten_histories(split, share=0.2, min_users=150)
    fraction = hash_fraction(np.array(users))
    assert cohort.size == int((fraction < 0.25).sum())  # 150 / 600, above the fifth asked
    _, capped = shorten_histories(split, share=0.2, min_users=10_000)
    assert capped.size == int((fraction < 1 / 3).sum())
    _, salted = shorten_histories(split, share=0.2, min_users=150, salt="validation")
    assert salted.size == int((hash_fraction(np.array(users), "validation") < 0.25).sum())
    assert 0 < np.intersect1d(salted, cohort).size < salted.size  # another, independent draw


def test_cohorts_keep_simulated_users_out_of_the_natural_column() -> None:
    train = events([("a", "x", 1), ("b", "x", 1), ("b", "y", 2), ("c", "x", 1), ("c", "y", 2),
                    ("c", "z", 3), ("c", "w", 4)])
    test = events([("a", "y", 10), ("b", "z", 10), ("c", "v", 10)])
    split = Split(train, test, 10, "last-basket")
    data = core.prepare(split, BatchConfig(), 20)
    columns = discovery.cohorts(train, data.holdout, np.array(["b"]))
    users = data.holdout.user_ids.tolist()
    got = {label: [u for u, m in zip(users, mask.tolist(), strict=True) if m]
           for label, mask in columns}
    assert got == {"≤3 events, natural": ["a"], "simulated short (last 3 events)": ["b"]}
    assert [label for label, _ in discovery.cohorts(train, data.holdout, np.array([]))] == [
        "≤3 events, natural"]


def result(name: str, new: list[float]) -> core.Result:
    values = np.array(new)
    return core.Result(name, {"ndcg": values * 2}, {"ndcg": values}, 0.5, 1.0)


def test_routing_picks_the_model_best_on_short_validation_users() -> None:
    # Validation: users 0 and 1 are short. "long" is best overall, "session" on short users.
    tuned = {
        "long": discovery.Tuned(result("long", [0.5, 0.5]), result("long", [0.1, 0.2, 0.9]),
                                0.6, np.array([0.1, 0.1, 0.9, 0.9])),
        "session": discovery.Tuned(result("session", [0.5, 0.5]),
                                   result("session", [0.4, 0.3, 0.0]), 0.4,
                                   np.array([0.3, np.nan, 0.2, 0.2])),
        "library": discovery.Tuned(result("library", [0.5, 0.5]),
                                   result("library", [1.0, 1.0, 1.0]), 0.9,
                                   np.array([1.0, 1.0, 1.0, 1.0])),
    }
    valid_short = np.array([True, True, False, False])
    test_short = np.array([True, False, False])
    # One short validation user where "session" wins: too few to show it better.
    route = discovery.routed(tuned, ["long", "session"], "long", valid_short, test_short)
    assert route.params["short"] == "long"
    assert route.per_user_new["ndcg"].tolist() == [0.1, 0.2, 0.9]
    # Forty short validation users, "session" ahead on each of them.
    many = 40
    valid_short = np.r_[np.ones(many, dtype=bool), False, False]
    tuned["long"].valid_new = np.r_[np.full(many, 0.1), 0.9, 0.9]
    tuned["session"].valid_new = np.r_[np.linspace(0.2, 0.4, many), 0.2, 0.2]
    tuned["library"].valid_new = np.ones(many + 2)
    route = discovery.routed(tuned, ["long", "session"], "long", valid_short, test_short)
    assert route.params["short"] == "session" and route.params["others"] == "long"
    assert route.per_user_new["ndcg"].tolist() == [0.4, 0.2, 0.9]
    assert route.per_user["ndcg"].tolist() == [0.8, 0.4, 1.8]
    assert route.fit_seconds == 2.0
