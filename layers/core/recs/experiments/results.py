"""An experiment's results from its counters: rates, comparisons, checks and a verdict in words.

The unit of analysis is the unit of randomisation (a user or a session): a rate is the
share of exposed units that clicked, added to cart or bought, and revenue is per exposed
unit. Counting clicks per exposure instead would treat one shopper's many views as
independent trials and make every interval too narrow.

Peeking: results are read at any time (the route reflects events within seconds), so the
verdict rests on always-valid p-values (the mixture sequential probability ratio test of
Johari et al., "Always valid inference"). Such a p-value may be checked after every event
without inflating the false-positive rate, which a fixed-horizon p-value read repeatedly
would. The mixing distribution is an equal mix of normals whose scales are the minimum
detectable effect times 1, 4, 16 and 64: one scale at the minimum effect is slow to see a
far larger one on few units, and a mixture of likelihood ratios is itself a valid test.
The fixed-horizon p-value and interval are reported beside it; the verdict also waits for
the units the minimum detectable effect needs at 80 % power before it calls a difference
"none".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

from recs.contracts.experiments import RATES, Experiment, VariantCounts
from recs.experiments import statistics
from recs.experiments.statistics import Comparison, Sums

ALPHA = 0.05
SRM_ALPHA = 0.001
POWER = 0.8

LABELS = {"ctr": "CTR", "add_to_cart_rate": "add-to-cart rate",
          "conversion_rate": "conversion", "revenue_per_unit": "revenue per unit"}


def revenue_sums(counts: VariantCounts) -> Sums:
    """Revenue per unit as the Welch test takes it."""
    return Sums(counts.units, counts.revenue, counts.revenue_squares)


MIXTURE = (1.0, 4.0, 16.0, 64.0)


def always_valid_p_value(difference: float, variance: float, scale: float) -> float:
    """The mSPRT p-value for a difference with sampling variance ``variance``: 1 / Λ, where
    Λ is the likelihood ratio against no difference of the equal mixture of N(0, (s·scale)²)
    over ``MIXTURE``. Read once, now, it is at least the running minimum, so still valid."""
    if variance <= 0:
        return 1.0 if difference == 0 else 0.0
    logs = []
    for factor in MIXTURE:
        tau2 = (factor * scale) ** 2
        logs.append(0.5 * math.log(variance / (variance + tau2))
                    + difference * difference * tau2 / (2 * variance * (variance + tau2)))
    top = max(logs)
    log_ratio = top + math.log(sum(math.exp(x - top) for x in logs) / len(logs))
    return 1.0 if log_ratio <= 0 else min(1.0, math.exp(-log_ratio))


def compare(metric: str, control: VariantCounts, treatment: VariantCounts,
            mde: float) -> tuple[Comparison, float]:
    """The fixed-horizon comparison of ``metric`` and its always-valid p-value."""
    if metric == "revenue_per_unit":
        a, b = revenue_sums(control), revenue_sums(treatment)
        comparison = statistics.welch(a, b)
        variance = a.variance / a.n + b.variance / b.n
    else:
        s_a, s_b = getattr(control, RATES[metric]), getattr(treatment, RATES[metric])
        comparison = statistics.two_proportions(s_a, control.units, s_b, treatment.units)
        p_a, p_b = comparison.control, comparison.treatment
        variance = p_a * (1 - p_a) / control.units + p_b * (1 - p_b) / treatment.units
    scale = mde * abs(comparison.control) if comparison.control else mde
    return comparison, always_valid_p_value(comparison.difference, variance, scale)


def units_needed(metric: str, control: VariantCounts, mde: float) -> int | None:
    """Units per variant to detect a relative ``mde`` at 80 % power; None before any data."""
    if metric == "revenue_per_unit":
        sums = revenue_sums(control)
        if sums.n < 2 or sums.mean <= 0:
            return None
        z = NormalDist().inv_cdf(1 - ALPHA / 2) + NormalDist().inv_cdf(POWER)
        return math.ceil(2 * z * z * sums.variance / (mde * sums.mean) ** 2)
    rate = control.rate(metric)
    if not 0 < rate < 1:
        return None
    return statistics.units_per_variant(rate, mde, ALPHA, POWER)


def summarise(experiment: Experiment, counts: Mapping[str, VariantCounts]) -> dict[str, Any]:
    """The body of ``GET /experiments/{id}``'s ``results``: per variant, per comparison, the
    sample-ratio check, the units still needed, and the verdict in words."""
    variants = experiment["variants"]
    names = [v["name"] for v in variants]
    control_name = next((v["name"] for v in variants if v.get("control")), names[0])
    metric = experiment["primary_metric"]
    mde = experiment["minimum_detectable_effect"]
    empty = VariantCounts()
    per_variant = {name: _variant_row(counts.get(name, empty)) for name in names}
    units = [counts.get(name, empty).units for name in names]
    srm_p = statistics.sample_ratio_p_value(units, [v["weight"] for v in variants])
    control = counts.get(control_name, empty)
    needed = units_needed(metric, control, mde)
    comparisons: dict[str, Any] = {}
    for name in names:
        if name == control_name:
            continue
        treatment = counts.get(name, empty)
        comparisons[name] = {m: _comparison_row(m, control, treatment, mde)
                             for m in (*RATES, "revenue_per_unit")}
    verdict = _verdict(metric, control_name, comparisons, srm_p, units, needed)
    return {
        "control": control_name,
        "primary_metric": metric,
        "variants": per_variant,
        "comparisons": comparisons,
        "sample_ratio": {"p_value": srm_p, "mismatch": srm_p < SRM_ALPHA},
        "units_needed_per_variant": needed,
        "verdict": verdict,
    }


def _variant_row(counts: VariantCounts) -> dict[str, Any]:
    return {
        "units": counts.units, "exposures": counts.exposures, "clicks": counts.clicks,
        **{metric: round(counts.rate(metric), 6) for metric in RATES},
        "revenue_per_unit": round(revenue_sums(counts).mean, 4),
    }


def _comparison_row(metric: str, control: VariantCounts, treatment: VariantCounts,
                    mde: float) -> dict[str, Any] | None:
    enough = 2 if metric == "revenue_per_unit" else 1
    if control.units < enough or treatment.units < enough:
        return None
    comparison, valid_p = compare(metric, control, treatment, mde)
    return {
        "control": comparison.control, "treatment": comparison.treatment,
        "difference": comparison.difference, "interval": [comparison.low, comparison.high],
        "relative": comparison.relative,
        "relative_interval": (None if comparison.relative_low is None
                              else [comparison.relative_low, comparison.relative_high]),
        "p_value": comparison.p_value,
        "always_valid_p_value": valid_p,
    }


def _verdict(metric: str, control: str, comparisons: Mapping[str, Any], srm_p: float,
             units: Sequence[int], needed: int | None) -> str:
    label = LABELS[metric]
    if srm_p < SRM_ALPHA:
        return (f"sample ratio mismatch (p = {_p(srm_p)}): units are not split as configured, "
                "so no result can be trusted until the cause is found")
    significant = {name: rows[metric] for name, rows in comparisons.items()
                   if rows.get(metric) and rows[metric]["always_valid_p_value"] < ALPHA}
    if significant:
        best = max(significant, key=lambda name: significant[name]["difference"])
        row = significant[best]
        if row["difference"] > 0:
            return f"{best} beats {control} on {label}: {_effect(row)}"
        worst = min(significant, key=lambda name: significant[name]["difference"])
        return f"{control} beats {worst} on {label}: {_effect(significant[worst])}"
    if needed is None:
        return f"not enough data yet: no {label} in {control} to size the test on"
    missing = needed - min(units)
    if missing > 0:
        return f"not enough data yet: about {missing:,} more units per variant"
    return f"no difference on {label} at the minimum detectable effect"


def _effect(row: Mapping[str, Any]) -> str:
    if row["relative"] is not None:
        low, high = row["relative_interval"]
        shown = f"{row['relative']:+.0%} [{low:+.0%}, {high:+.0%}]"
    else:
        low, high = row["interval"]
        shown = f"{row['difference']:+.4g} [{low:+.4g}, {high:+.4g}]"
    return f"{shown}, p = {_p(row['always_valid_p_value'])}"


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
