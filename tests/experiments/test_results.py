"""An experiment's results: the verdict names the right winner, flags a skewed split, waits
for data, and stays valid however often it is read."""

from __future__ import annotations

import random

import pytest

from recs.contracts.experiments import Experiment, Variant, VariantCounts
from recs.experiments.results import always_valid_p_value, summarise
from recs.experiments.statistics import two_proportions


def _experiment(mde: float = 0.05, metric: str = "ctr") -> Experiment:
    return Experiment(id="exp-1", name="blend vs trending", surface="recommendations",
                      unit="user", variants=[Variant(name="A", weight=1, control=True),
                                             Variant(name="B", weight=1)],
                      minimum_detectable_effect=mde, primary_metric=metric, status="running",
                      created_at="2026-11-30T00:00:00+00:00")


def _counts(units: int, clicking: int, **more: float) -> VariantCounts:
    return VariantCounts(units=units, exposures=units, clicks=clicking,
                         clicking_units=clicking, **more)  # type: ignore[arg-type]


def test_thirty_percent_against_ten_names_the_winner_with_a_tiny_p_value() -> None:
    """The issue's demo: 1,000 users split 50/50, 30 % of B's users click, 10 % of A's."""
    results = summarise(_experiment(), {"A": _counts(500, 50), "B": _counts(500, 150)})
    row = results["comparisons"]["B"]["ctr"]
    assert results["verdict"].startswith("B beats A on CTR: +200% [")
    assert row["always_valid_p_value"] < 0.001 and row["p_value"] < 0.001
    assert row["relative"] == pytest.approx(2.0)
    assert results["sample_ratio"]["mismatch"] is False
    assert results["variants"]["B"]["ctr"] == 0.3


def test_a_losing_treatment_is_named_as_the_loser() -> None:
    results = summarise(_experiment(), {"A": _counts(500, 150), "B": _counts(500, 50)})
    assert results["verdict"].startswith("A beats B on CTR: -67% [")


def test_a_skewed_split_is_flagged_before_anything_else() -> None:
    results = summarise(_experiment(), {"A": _counts(600, 60), "B": _counts(400, 120)})
    assert results["sample_ratio"]["mismatch"] is True
    assert results["verdict"].startswith("sample ratio mismatch (p = < 0.001)")


def test_few_units_wait_for_the_sample_the_effect_needs() -> None:
    results = summarise(_experiment(mde=0.1), {"A": _counts(200, 20), "B": _counts(200, 22)})
    needed = results["units_needed_per_variant"]
    assert needed > 10_000
    assert results["verdict"] == (
        f"not enough data yet: about {needed - 200:,} more units per variant")


def test_enough_units_and_no_difference_says_so() -> None:
    results = summarise(_experiment(mde=0.5), {"A": _counts(5000, 500), "B": _counts(5000, 505)})
    assert results["verdict"] == "no difference on CTR at the minimum detectable effect"


def test_revenue_is_compared_per_unit() -> None:
    a = VariantCounts(units=400, exposures=400, purchasing_units=40, revenue=40 * 20.0,
                      revenue_squares=40 * 400.0)
    b = VariantCounts(units=400, exposures=400, purchasing_units=80, revenue=80 * 20.0,
                      revenue_squares=80 * 400.0)
    results = summarise(_experiment(metric="revenue_per_unit"), {"A": a, "B": b})
    row = results["comparisons"]["B"]["revenue_per_unit"]
    assert row["control"] == 2.0 and row["treatment"] == 4.0
    assert results["verdict"].startswith("B beats A on revenue per unit: +100% [")


def test_an_experiment_without_traffic_waits() -> None:
    results = summarise(_experiment(), {})
    assert results["comparisons"]["B"]["ctr"] is None
    assert results["verdict"].startswith("not enough data yet")


def test_reading_after_every_batch_of_units_keeps_false_positives_rare() -> None:
    """A/A: both arms click 10 %. Peeking 100 times per experiment, the always-valid p-value
    crosses 0.05 in at most about 5 % of experiments; the fixed-horizon one far more often."""
    rng = random.Random(20261130)
    runs, peeks, step = 300, 100, 50
    valid_hits = fixed_hits = 0
    for _ in range(runs):
        a = b = n = 0
        valid = fixed = False
        for _ in range(peeks):
            a += sum(rng.random() < 0.1 for _ in range(step))
            b += sum(rng.random() < 0.1 for _ in range(step))
            n += step
            comparison = two_proportions(a, n, b, n)
            p_a, p_b = comparison.control, comparison.treatment
            variance = p_a * (1 - p_a) / n + p_b * (1 - p_b) / n
            valid |= always_valid_p_value(comparison.difference, variance, 0.05 * 0.1) < 0.05
            fixed |= comparison.p_value < 0.05
        valid_hits += valid
        fixed_hits += fixed
    assert valid_hits / runs <= 0.07
    assert fixed_hits / runs > 0.2
