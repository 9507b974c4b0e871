"""The statistics an experiment's verdict rests on, in pure Python.

The API function answers ``GET /experiments/{id}`` and may not load scipy (cold start), so
the few distributions needed are computed here: the normal from ``statistics.NormalDist``,
Student's t through the regularised incomplete beta function and the chi-square through the
regularised incomplete gamma function (continued fractions and series, accurate to about
1e-12, checked against scipy.stats in the tests).

Rates (CTR, add-to-cart, conversion) are compared with a two-proportion z-test; revenue per
unit with Welch's t-test on per-unit sums given as (count, sum, sum of squares); the
sample-ratio check is a chi-square goodness-of-fit test of units per variant against the
configured weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()
_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 500


@dataclass(frozen=True)
class Comparison:
    """A treatment against the control: differences, their 95 % interval and the p-value."""

    control: float
    treatment: float
    difference: float  # treatment - control
    low: float  # of the difference, at ``confidence``
    high: float
    relative: float | None  # difference / control; None when the control is 0
    relative_low: float | None
    relative_high: float | None
    p_value: float
    confidence: float = 0.95


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal, accurate in the far tail (no 1 - cdf cancellation)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_proportions(successes_a: int, trials_a: int, successes_b: int, trials_b: int,
                    confidence: float = 0.95) -> Comparison:
    """B against A on a rate: pooled z-test for the p-value, unpooled (Wald) interval.

    The relative interval divides the absolute one by A's rate, a first-order approximation
    that is good once each arm has a few hundred trials, which the verdict waits for anyway.
    """
    if min(trials_a, trials_b) <= 0:
        raise ValueError("each arm needs at least one trial")
    if not (0 <= successes_a <= trials_a and 0 <= successes_b <= trials_b):
        raise ValueError("successes must lie between 0 and the trials")
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    difference = p_b - p_a
    p_value = min(1.0, 2 * normal_sf(abs(difference) / se_pooled)) if se_pooled > 0 else 1.0
    se = math.sqrt(p_a * (1 - p_a) / trials_a + p_b * (1 - p_b) / trials_b)
    return _comparison(p_a, p_b, difference, se * _NORMAL.inv_cdf(0.5 + confidence / 2),
                       p_value, confidence)


@dataclass(frozen=True)
class Sums:
    """A per-unit metric summarised without the units: n, Σx and Σx² (kept by counters)."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance (n - 1), clamped at 0 against rounding."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


def welch(a: Sums, b: Sums, confidence: float = 0.95) -> Comparison:
    """B against A on a mean (revenue per unit): Welch's t-test and its interval."""
    if min(a.n, b.n) < 2:
        raise ValueError("each arm needs at least two units")
    var_a, var_b = a.variance / a.n, b.variance / b.n
    se = math.sqrt(var_a + var_b)
    difference = b.mean - a.mean
    if se == 0:
        return _comparison(a.mean, b.mean, difference, 0.0, 1.0 if difference == 0 else 0.0,
                           confidence)
    dof = (var_a + var_b) ** 2 / (
        (var_a**2 / (a.n - 1) if var_a else 0.0) + (var_b**2 / (b.n - 1) if var_b else 0.0))
    t = abs(difference) / se
    p_value = min(1.0, 2 * student_t_sf(t, dof))
    half_width = se * student_t_ppf(0.5 + confidence / 2, dof)
    return _comparison(a.mean, b.mean, difference, half_width, p_value, confidence)


def _comparison(control: float, treatment: float, difference: float, half_width: float,
                p_value: float, confidence: float) -> Comparison:
    low, high = difference - half_width, difference + half_width
    if control:
        return Comparison(control, treatment, difference, low, high, difference / control,
                          low / control, high / control, p_value, confidence)
    return Comparison(control, treatment, difference, low, high, None, None, None, p_value,
                      confidence)


def sample_ratio_p_value(units: list[int], weights: list[float]) -> float:
    """Chi-square goodness of fit of units per variant to their weights (the SRM check)."""
    if len(units) != len(weights) or len(units) < 2:
        raise ValueError("one count and one weight per variant, at least two variants")
    total, weight_sum = sum(units), sum(weights)
    if total == 0:
        return 1.0
    statistic = 0.0
    for observed, weight in zip(units, weights, strict=True):
        expected = total * weight / weight_sum
        if expected > 0:
            statistic += (observed - expected) ** 2 / expected
    return chi2_sf(statistic, len(units) - 1)


def units_per_variant(baseline: float, relative_effect: float, alpha: float = 0.05,
                      power: float = 0.8) -> int:
    """Units each arm needs to detect ``baseline * (1 + relative_effect)`` on a rate."""
    if not 0 < baseline < 1:
        raise ValueError("the baseline rate must lie strictly between 0 and 1")
    if relative_effect == 0:
        raise ValueError("the minimum detectable effect must not be 0")
    treated = min(max(baseline * (1 + relative_effect), 1e-9), 1 - 1e-9)
    z_alpha = _NORMAL.inv_cdf(1 - alpha / 2)
    z_power = _NORMAL.inv_cdf(power)
    mean = (baseline + treated) / 2
    numerator = (z_alpha * math.sqrt(2 * mean * (1 - mean))
                 + z_power * math.sqrt(baseline * (1 - baseline) + treated * (1 - treated)))
    return math.ceil(numerator**2 / (treated - baseline) ** 2)


# -- distributions ---------------------------------------------------------------------------


def student_t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t with ``dof`` degrees of freedom (dof may be fractional)."""
    if dof <= 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isinf(dof):
        return normal_sf(t)
    # x and 1 - x both computed directly, so neither loses its digits to a subtraction.
    tail = 0.5 * regularized_beta(dof / 2, 0.5, dof / (dof + t * t), t * t / (dof + t * t))
    return tail if t >= 0 else 1 - tail


def student_t_ppf(q: float, dof: float) -> float:
    """The t with P(T <= t) = q, by bisection on the survival function (monotone)."""
    if not 0 < q < 1:
        raise ValueError("q must lie strictly between 0 and 1")
    if q < 0.5:
        return -student_t_ppf(1 - q, dof)
    low, high = 0.0, max(1.0, _NORMAL.inv_cdf(q) * 4)
    while student_t_sf(high, dof) > 1 - q:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if student_t_sf(middle, dof) > 1 - q:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square with ``dof`` degrees of freedom."""
    if x <= 0:
        return 1.0
    return regularized_gamma_q(dof / 2, x / 2)


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a): a series below a + 1, a continued fraction above it."""
    if x <= 0:
        return 1.0
    if x < a + 1:
        return 1.0 - _gamma_series(a, x)
    return _gamma_fraction(a, x)


def _gamma_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_fraction(a: float, x: float) -> float:
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def regularized_beta(a: float, b: float, x: float, y: float | None = None) -> float:
    """I_x(a, b), by the continued fraction on whichever side converges fast; ``y`` is
    1 - x when the caller can compute it without cancellation."""
    y = 1.0 - x if y is None else y
    if x <= 0:
        return 0.0
    if y <= 0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log(y))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, y) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1, a - 1
    c = 1.0
    d = 1 - qab * x / qap
    d = _TINY if abs(d) < _TINY else d
    d = 1 / d
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return h
