"""Short histories get a discovery part of their own when, and only when, it is measurably
better for them.

Known answer: long-history shoppers in clusters of three (six items each, the last one
viewed) who come back in the validation to view that item again, and newcomers with a single
view of an item nobody else touched, who come back to buy one of the bestsellers that
background shoppers buy. Item-item cosine (the main part) finds nothing for a newcomer: their
one item has no neighbours. Popularity finds the bestsellers. So for histories of at most
three items, popularity is the better part; the long shoppers, whose validation item is a
repeat, are not harmed by it (their own items outrank any discovery at a blend weight of
0.97), so the route passes the next-basket guard too. BM25, like cosine, finds nothing for a
newcomer: no gain, no route.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from recs.batch.config import BatchConfig
from recs.batch.evaluation import tuning
from recs.batch.model import Model
from recs.batch.training import train
from recs.batch.weighting import weight_events
from tests.evaluation.shops import DAY_MS, T0, event_table, only

CLUSTERS, NEWCOMERS, BESTSELLERS = 30, 60, 8


def shop() -> tuple[pa.Table, float]:
    """The events, and the share of them that is the validation (the last ones in time)."""
    rng = np.random.default_rng(1)
    rows: list[tuple[str, str, str, float]] = []
    for b in range(80):
        for p in rng.choice(BESTSELLERS, size=3, replace=False):
            rows.append((f"bg{b}", f"pop{p}", "purchase", rng.uniform(0, 8)))
    for cluster in range(CLUSTERS):
        for member in range(3):
            user = f"long{cluster}-{member}"
            rows += [(user, f"c{cluster}-{i}", "purchase", rng.uniform(0, 8)) for i in range(5)]
            rows.append((user, f"c{cluster}-5", "cart", 8.5))  # their latest event
    rows += [(f"new{n}", f"niche{n}", "view", rng.uniform(0, 8)) for n in range(NEWCOMERS)]
    trained = len(rows)
    for cluster in range(CLUSTERS):
        rows += [(f"long{cluster}-{m}", f"c{cluster}-5", "cart", 9.5) for m in range(3)]
    rows += [(f"new{n}", f"pop{rng.integers(BESTSELLERS)}", "purchase", 9.5)
             for n in range(NEWCOMERS)]
    return event_table(rows), (len(rows) - trained) / len(rows)


CONFIG = BatchConfig(discovery="cosine", blend_weight=0.97, training_window_days=30)


def tune(short: tuple[str, ...]) -> tuning.TuningResult:
    events, validation = shop()
    return tuning.tune(events, CONFIG, grid=only(CONFIG, short_discovery=short), extra_folds=(),
                       test_fraction=validation, budget_seconds=60)


def lists(model: Model) -> dict[str, list[str]]:
    """Each user's list of item ids."""
    p = model.rec_indptr
    return {user: model.item_ids[model.rec_items[p[row]:p[row + 1]]].tolist()
            for row, user in enumerate(model.user_ids.tolist())}


@pytest.fixture(scope="module")
def routed() -> tuning.TuningResult:
    return tune(("popularity",))


def test_popularity_is_chosen_for_short_histories(routed: tuning.TuningResult) -> None:
    record = routed.record()["short"]
    assert json.loads(json.dumps(record)) == record  # the registry keeps it as JSON
    assert record["discovery"] == "popularity"
    assert routed.config.short_discovery == "popularity"
    assert routed.params["short_discovery"] == "popularity"
    assert routed.config.discovery == "cosine"  # everyone else keeps the main part
    mean, low, _ = record["gain"]
    assert low > 0 and mean == pytest.approx(record["tried"]["popularity"] - record["main"],
                                             abs=1e-5)
    assert record["main"] == 0.0  # cosine finds nothing for a newcomer
    assert record["users"] >= NEWCOMERS // 2  # the validation's newcomers are scored


def test_a_part_no_better_than_the_main_one_is_not_routed() -> None:
    record = tune(("bm25",)).record()["short"]
    assert record["tried"] == {"bm25": 0.0}
    assert record["discovery"] == ""


def test_without_candidates_the_stage_does_not_run_and_nobody_is_routed() -> None:
    result = tune(())  # the Spark engine's grid: one discovery part for everyone
    assert "short" not in result.record()
    assert result.params["short_discovery"] == "" and result.config.short_discovery == ""


def test_short_histories_get_the_routed_model_s_lists_and_the_others_keep_theirs(
        routed: tuning.TuningResult) -> None:
    events, _ = shop()
    interactions = weight_events(events, routed.config, T0 + 10 * DAY_MS)
    settings = {**routed.config.as_dict(), "short_discovery": ""}
    with_route = lists(train(interactions, routed.config))
    main = lists(train(interactions, BatchConfig(**settings)))
    short_part = lists(train(interactions, BatchConfig(**{**settings,
                                                          "discovery": "popularity"})))
    items = np.bincount(interactions.user_index, minlength=interactions.n_users)
    short = {user for user, n in zip(interactions.user_ids.tolist(), items.tolist(),
                                     strict=True) if n <= 3}
    assert {u for u in short if u.startswith("new")} == {f"new{n}" for n in range(NEWCOMERS)}
    assert not any(u.startswith("long") for u in short)
    for user, mine in with_route.items():
        assert mine == (short_part[user] if user in short else main[user]), user
    assert sum(with_route[u] != main[u] for u in short) >= NEWCOMERS // 2
