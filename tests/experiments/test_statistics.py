"""The experiment statistics agree with scipy.stats, and the verdicts' known answers hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from recs.experiments import statistics as S


@given(st.floats(0.05, 500), st.floats(-40, 40))
@settings(max_examples=300, deadline=None)
def test_students_t_tail_matches_scipy(dof: float, t: float) -> None:
    assert S.student_t_sf(t, dof) == pytest.approx(stats.t.sf(t, dof), rel=1e-8, abs=1e-300)


@given(st.integers(1, 60), st.floats(0.0, 400))
@settings(max_examples=300, deadline=None)
def test_chi_square_tail_matches_scipy(dof: int, x: float) -> None:
    assert S.chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-8, abs=1e-300)


@given(st.floats(0.5, 200), st.floats(0.001, 0.999))
@settings(max_examples=200, deadline=None)
def test_students_t_quantile_matches_scipy(dof: float, q: float) -> None:
    assert S.student_t_ppf(q, dof) == pytest.approx(stats.t.ppf(q, dof), rel=1e-7, abs=1e-9)


def test_two_proportions_is_the_pooled_z_test() -> None:
    """300 of 1,000 against 100 of 1,000 clicks: a huge, certain difference."""
    result = S.two_proportions(100, 1000, 300, 1000)
    pooled = 400 / 2000
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert result.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    assert result.p_value < 1e-20
    assert result.difference == pytest.approx(0.2)
    assert result.relative == pytest.approx(2.0)
    se = math.sqrt(0.1 * 0.9 / 1000 + 0.3 * 0.7 / 1000)
    assert result.low == pytest.approx(0.2 - 1.959963984540054 * se)
    assert result.high == pytest.approx(0.2 + 1.959963984540054 * se)


def test_equal_rates_are_not_significant() -> None:
    result = S.two_proportions(50, 1000, 50, 1000)
    assert result.p_value == pytest.approx(1.0)
    assert result.low < 0 < result.high


def test_a_zero_control_rate_has_no_relative_difference() -> None:
    result = S.two_proportions(0, 100, 5, 100)
    assert result.relative is None and result.relative_low is None
    assert 0 < result.p_value < 0.05


def test_welch_matches_scipy_on_the_raw_values() -> None:
    a = [0.0] * 70 + [12.5, 30.0, 8.0] * 10
    b = [0.0] * 60 + [15.0, 42.0, 9.5, 20.0] * 10
    result = S.welch(_sums(a), _sums(b))
    expected = stats.ttest_ind(b, a, equal_var=False)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-7)
    interval = expected.confidence_interval(0.95)
    assert result.low == pytest.approx(interval.low, rel=1e-6)
    assert result.high == pytest.approx(interval.high, rel=1e-6)
    assert result.difference == pytest.approx(sum(b) / len(b) - sum(a) / len(a))


@given(st.lists(st.floats(0, 1000), min_size=3, max_size=60),
       st.lists(st.floats(0, 1000), min_size=3, max_size=60))
@settings(max_examples=100, deadline=None)
def test_welch_p_value_matches_scipy(a: list[float], b: list[float]) -> None:
    sa, sb = _sums(a), _sums(b)
    if sa.variance < 1e-6 or sb.variance < 1e-6:
        return  # scipy divides by a zero variance; ours answers 0 or 1 (tested below)
    expected = stats.ttest_ind(b, a, equal_var=False).pvalue
    assert S.welch(sa, sb).p_value == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_welch_without_variance_is_certain_or_void() -> None:
    assert S.welch(_sums([1.0, 1.0]), _sums([1.0, 1.0])).p_value == 1.0
    assert S.welch(_sums([1.0, 1.0]), _sums([2.0, 2.0])).p_value == 0.0


def test_sample_ratio_check_matches_scipy_and_flags_a_skewed_split() -> None:
    assert S.sample_ratio_p_value([5000, 5000], [0.5, 0.5]) == pytest.approx(1.0)
    skewed = S.sample_ratio_p_value([5200, 4800], [0.5, 0.5])
    assert skewed == pytest.approx(stats.chisquare([5200, 4800]).pvalue, rel=1e-9)
    assert skewed < 0.001
    three = S.sample_ratio_p_value([1000, 2100, 900], [1, 2, 1])
    assert three == pytest.approx(stats.chisquare([1000, 2100, 900],
                                                  [1000, 2000, 1000]).pvalue, rel=1e-9)


def test_units_needed_match_the_textbook_formula() -> None:
    """A 10 % baseline CTR and a +10 % relative effect need about 14,750 units per arm."""
    n = S.units_per_variant(0.10, 0.10)
    p1, p2 = 0.10, 0.11
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    mean = (p1 + p2) / 2
    expected = (z_a * math.sqrt(2 * mean * (1 - mean))
                + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p2 - p1) ** 2
    assert n == math.ceil(expected)
    assert 14_000 < n < 15_500
    assert S.units_per_variant(0.10, 0.20) < n  # a bigger effect needs fewer units


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        S.two_proportions(1, 0, 1, 10)
    with pytest.raises(ValueError):
        S.two_proportions(11, 10, 1, 10)
    with pytest.raises(ValueError):
        S.units_per_variant(0.0, 0.1)
    with pytest.raises(ValueError):
        S.sample_ratio_p_value([1], [1.0])


def _sums(values: list[float]) -> S.Sums:
    return S.Sums(len(values), sum(values), sum(v * v for v in values))
