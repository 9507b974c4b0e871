"""The benchmark's session data: baskets as rows, position-weighted recent events, short users."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recs.batch.config import BatchConfig
from recs.batch.evaluation import core
from recs.batch.evaluation.split import Split
from recs_local.evaluation import discovery, loaders

DAY = 86_400_000


def events(rows: list[tuple[str, str, str, int]]) -> pa.Table:
    n = len(rows)
    return loaders._table(
        n, user=pa.array([r[0] for r in rows]), item=pa.array([r[2] for r in rows]),
        event_type=pa.array(["purchase"] * n), ts_ms=np.array([r[3] for r in rows]),
        session=pa.array([r[1] for r in rows]))


def test_baskets_become_rows_and_recent_events_weigh_more() -> None:
    train = events([("a", "s1", "x", 0), ("a", "s1", "y", 1000), ("a", "s2", "z", DAY),
                    ("b", "s3", "x", DAY)])
    test = events([("a", "s4", "w", 2 * DAY), ("b", "s5", "y", 2 * DAY)])
    split = Split(train, test, 2 * DAY, "last-basket")
    data = core.prepare(split, BatchConfig(half_life_days=1.0), 20)
    s = discovery.session_data(train, data, decay=0.5)
    items = list(data.interactions.item_ids)
    users = list(data.interactions.user_ids)
    baskets = sorted(sorted(items[i] for i in s.sessions[r].indices)
                     for r in range(s.sessions.shape[0]))
    assert baskets == [["x"], ["x", "y"], ["z"]]
    # The older basket (two days before the end) weighs half the one a day before.
    weight = {tuple(sorted(items[i] for i in s.sessions[r].indices)): s.sessions[r].data.max()
              for r in range(s.sessions.shape[0])}
    assert weight[("x", "y")] * 2 == pytest.approx(weight[("z",)], rel=1e-4)
    q = s.queries[users.index("a")].toarray().ravel() / BatchConfig().weight_of("purchase")
    assert q[items.index("z")] == 1.0 and q[items.index("y")] == 0.5
    assert q[items.index("x")] == 0.25


def test_short_users_count_training_events() -> None:
    train = events([("a", "s1", "x", 0), ("a", "s1", "y", 1), ("a", "s2", "z", 2),
                    ("a", "s2", "w", 3), ("b", "s3", "x", 4)])
    test = events([("a", "s4", "v", 10), ("b", "s5", "y", 10)])
    split = Split(train, test, 10, "last-basket")
    data = core.prepare(split, BatchConfig(), 20)
    short = discovery.short_users(train, data.holdout)
    assert dict(zip(data.holdout.user_ids.tolist(), short.tolist(), strict=True)) == {
        "a": False, "b": True}
