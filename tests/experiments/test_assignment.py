"""Assignment is deterministic, sticky, proportional to the weights and independent between
experiments."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from recs.contracts.experiments import Experiment, Variant
from recs.experiments import statistics
from recs.experiments.assignment import assign, position


def _experiment(experiment_id: str, *weights: float) -> Experiment:
    variants = [Variant(name=f"v{i}", weight=w) for i, w in enumerate(weights)]
    return Experiment(id=experiment_id, name="e", surface="recommendations", unit="user",
                      variants=variants, minimum_detectable_effect=0.05, primary_metric="ctr",
                      status="running", created_at="2026-11-30T00:00:00+00:00")


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=80))
def test_the_same_unit_always_gets_the_same_variant(experiment_id: str, unit: str) -> None:
    experiment = _experiment(experiment_id, 1, 1, 2)
    assert assign(experiment, unit) == assign(experiment, unit)
    assert 0.0 <= position(experiment_id, unit) < 1.0


@given(st.lists(st.floats(0.05, 10), min_size=2, max_size=5))
@settings(max_examples=25, deadline=None)
def test_units_split_in_proportion_to_the_weights(weights: list[float]) -> None:
    """20,000 users: the split passes the same sample-ratio check the results apply."""
    experiment = _experiment("exp-weights", *weights)
    counts = Counter(assign(experiment, f"user-{i}")["name"] for i in range(20_000))
    observed = [counts.get(f"v{i}", 0) for i in range(len(weights))]
    assert statistics.sample_ratio_p_value(observed, weights) > 1e-4


def test_two_experiments_split_users_independently() -> None:
    """Being in B of one experiment says nothing about the arm of the next."""
    first, second = _experiment("exp-1", 1, 1), _experiment("exp-2", 1, 1)
    pairs = Counter((assign(first, f"u{i}")["name"], assign(second, f"u{i}")["name"])
                    for i in range(20_000))
    quarter = 5_000
    assert all(abs(pairs[(a, b)] - quarter) < 300 for a in ("v0", "v1") for b in ("v0", "v1"))


def test_a_known_unit_lands_where_its_hash_says() -> None:
    experiment = _experiment("exp-known", 1, 1)
    where = position("exp-known", "alice")
    assert assign(experiment, "alice")["name"] == ("v0" if where < 0.5 else "v1")
