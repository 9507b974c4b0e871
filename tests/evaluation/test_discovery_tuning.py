"""The nightly tuning's two objectives: the blend's discovery part is chosen for the list of
items new to the user, the rest for the next basket, and the record keeps both.

Known answer: shoppers in small clusters (three shoppers, three items each) who mostly come
back to their own items, and bestsellers that background shoppers buy and no cluster shopper
touches before the validation. In the validation, 100 shoppers view their weak item again and
25 buy a bestseller new to them. A cosine discovery part only knows cluster items: best for the
next basket (the repeat ranks high) and useless for discovery; popularity finds the
bestsellers (every discoverer hit) but, at a blend weight of 0.5, buries the repeats under
them: worse for the next basket.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from recs.batch.config import BatchConfig
from recs.batch.evaluation import tuning
from tests.evaluation.shops import event_table, only

REPEATERS, DISCOVERERS, BESTSELLERS = 100, 25, 12


def shop() -> tuple[pa.Table, float]:
    """The events, and the share of them that is the validation (the last ones in time)."""
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str, str, float]] = []
    for b in range(60):
        for p in rng.choice(BESTSELLERS, size=4, replace=False):
            rows.append((f"bg{b}", f"pop{p}", "purchase", rng.uniform(0, 8)))
    shoppers = [f"r{n}" for n in range(REPEATERS)] + [f"d{n}" for n in range(DISCOVERERS)]
    for n, user in enumerate(shoppers):
        cluster = n // 3
        rows += [(user, f"c{cluster}-0", "purchase", rng.uniform(0, 8)) for _ in range(3)]
        rows.append((user, f"c{cluster}-1", "view", rng.uniform(0, 8)))
        if n % 3 == 0:
            rows.append((user, f"c{cluster}-2", "view", rng.uniform(0, 8)))
    trained = len(rows)
    for n, user in enumerate(shoppers):
        rows.append((user, f"c{n // 3}-1", "view", 9.5) if user.startswith("r")
                    else (user, f"pop{rng.integers(BESTSELLERS)}", "purchase", 9.5))
    return event_table(rows), (len(rows) - trained) / len(rows)


@pytest.fixture(scope="module")
def tuned() -> tuning.TuningResult:
    events, validation = shop()
    config = BatchConfig(discovery="cosine", blend_weight=0.5, training_window_days=30)
    return tuning.tune(events, config, grid=only(config, discovery=("cosine", "popularity")),
                       extra_folds=(), test_fraction=validation, budget_seconds=60)


def trial(result: tuning.TuningResult, discovery: str) -> dict[str, Any]:
    return next(t for t in result.trials
                if t["params"]["discovery"] == discovery and t["per_category"])


def test_the_two_objectives_disagree_on_this_shop(tuned: tuning.TuningResult) -> None:
    cosine, popularity = trial(tuned, "cosine"), trial(tuned, "popularity")
    assert cosine["ndcg"] > popularity["ndcg"] + 0.2  # the next basket wants cosine
    assert cosine["discovery"]["ndcg"] == 0.0  # no discoverer finds a bestseller through it
    assert popularity["discovery"]["hit_rate"] == 1.0  # every one does through popularity
    assert cosine["discovery"]["users"] == DISCOVERERS


def test_the_discovery_part_is_chosen_on_the_discovery_objective(
        tuned: tuning.TuningResult) -> None:
    assert tuned.params["discovery"] == "popularity"
    assert tuned.config.discovery == "popularity"


def test_the_record_keeps_both_choices_and_both_scores(tuned: tuning.TuningResult) -> None:
    record = tuned.record()
    popularity = trial(tuned, "popularity")
    assert record["discovery"]["params"] == {"discovery": "popularity", "blend_popularity": 0.0}
    assert record["discovery"]["validation"]["ndcg"] == pytest.approx(
        popularity["discovery"]["ndcg"], abs=1e-6)
    assert record["discovery"]["validation"]["users"] == DISCOVERERS
    # The next-basket score is the chosen setting's, the discovery choice's cost included.
    assert record["validation"]["ndcg"] == pytest.approx(popularity["ndcg"], abs=1e-6)
    assert record["params"]["blend_weight"] == 0.5


def test_the_blend_weight_is_chosen_on_the_next_basket() -> None:
    """With popularity as the discovery part, a high repeat weight lifts the repeats above
    the bestsellers: the next basket gains, discovery cannot tell (one weight for all items
    scales every new item alike), so the weight moves on the next-basket objective."""
    events, validation = shop()
    config = BatchConfig(discovery="popularity", blend_weight=0.5, training_window_days=30)
    result = tuning.tune(events, config, grid=only(config, blend_weight=(0.5, 0.95)),
                         extra_folds=(), test_fraction=validation, budget_seconds=60)
    assert result.params["blend_weight"] == 0.95
    low = next(t for t in result.trials if t["params"]["blend_weight"] == 0.5)
    high = next(t for t in result.trials if t["params"]["blend_weight"] == 0.95)
    assert high["ndcg"] > low["ndcg"]
    assert high["discovery"]["ndcg"] == pytest.approx(low["discovery"]["ndcg"])


def test_a_model_without_a_discovery_part_has_one_objective() -> None:
    events, validation = shop()
    config = BatchConfig(algorithm="cosine", training_window_days=30)
    result = tuning.tune(events, config, grid=only(config, neighbours=(20, 50)),
                         extra_folds=(), test_fraction=validation, budget_seconds=60)
    assert tuning.discovery_settings("cosine", config, tuning.GRID) == set()
    assert "discovery" not in result.record()
    assert all("discovery" not in t for t in result.trials)


def test_the_discovery_settings_are_the_parts_and_the_new_item_prior() -> None:
    config = BatchConfig()
    settings = tuning.discovery_settings("blend", config, tuning.GRID)
    assert {"discovery", "blend_popularity", "neighbours", "shrinkage", "rp3_beta",
            "als_alpha", "ensemble_weight"} <= settings
    assert not {"blend_weight", "half_life_days"} & settings
