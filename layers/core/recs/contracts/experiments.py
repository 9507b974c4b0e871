"""The experiment contract: what an operator declares, what the registry stores, what answers say.

An experiment splits the units (users or sessions) of one surface between variants by a
salted hash, so assignment needs no stored state and an answer's ``recommendation_id``
carries the experiment and the variant for attribution without a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, NotRequired, TypedDict

SURFACES = ("recommendations", "similar", "trending", "all")
UNITS = ("user", "session")
METRICS = ("ctr", "add_to_cart_rate", "conversion_rate", "revenue_per_unit")
# The rates, each the share of exposed units that did it at least once.
RATES = {"ctr": "clicking_units", "add_to_cart_rate": "carting_units",
         "conversion_rate": "purchasing_units"}
STATUSES = ("running", "stopped")
# The settings a variant may change on the read path (ServingConfig field names), with
# their bounds: whole numbers or not, smallest, largest.
SERVING_OVERRIDES: dict[str, tuple[bool, float, float]] = {
    "new_arrival_share": (False, 0.0, 1.0),
    "long_tail_share": (False, 0.0, 1.0),
    "max_per_category": (True, 1, 100),
}
# The environment variable each of them is read from (``ServingConfig.from_env``), for
# rolling a winner's settings out to every shopper: they take effect on the next deploy.
SERVING_OVERRIDE_ENV = {name: f"RECS_{name.upper()}" for name in SERVING_OVERRIDES}

Surface = Literal["recommendations", "similar", "trending", "all"]
Unit = Literal["user", "session"]


class Variant(TypedDict):
    """One arm. ``control`` answers non-personalised trending; otherwise the variant serves
    ``model_version`` (default: the live model) with ``settings`` over the function's own."""

    name: str
    weight: float
    control: NotRequired[bool]
    model_version: NotRequired[str]
    settings: NotRequired[dict[str, float | int]]


class Experiment(TypedDict):
    """An experiment as the registry stores it and ``GET /experiments/{id}`` returns it."""

    id: str
    name: str
    surface: Surface
    unit: Unit
    variants: list[Variant]
    minimum_detectable_effect: float  # relative, e.g. 0.05 for +5 %
    primary_metric: str  # one of METRICS
    status: str  # one of STATUSES
    created_at: str
    stopped_at: NotRequired[str]
    winner: NotRequired[str]


class Assignment(TypedDict):
    """What an answer in an experiment names: ``"experiment": {"id": ..., "variant": ...}``."""

    id: str
    variant: str


@dataclass(frozen=True)
class VariantCounts:
    """What the counters hold for one variant: live ones kept as events arrive, exact ones
    recounted nightly from the lake. A unit counts once it was exposed or acted."""

    units: int = 0
    exposures: int = 0  # lists served and impressions
    clicks: int = 0
    clicking_units: int = 0
    carting_units: int = 0
    purchasing_units: int = 0
    revenue: float = 0.0  # the sum over units of each unit's revenue
    revenue_squares: float = 0.0  # the sum over units of each unit's revenue squared

    def rate(self, metric: str) -> float:
        return getattr(self, RATES[metric]) / self.units if self.units else 0.0

    def __add__(self, other: VariantCounts) -> VariantCounts:
        return VariantCounts(*(getattr(self, f.name) + getattr(other, f.name)
                               for f in fields(self)))

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariantCounts:
        """From stored numbers (DynamoDB gives Decimals); missing fields are 0."""
        def number(name: str) -> Any:
            return (float if name in _REAL else int)(data.get(name, 0))
        return cls(**{f.name: number(f.name) for f in fields(cls)})


_REAL = frozenset({"revenue", "revenue_squares"})


@dataclass(frozen=True)
class Outcome:
    """What one served list or one event adds to a unit in an arm. Served lists and
    impressions are both exposures; they are kept apart because only impressions are in the
    lake, so the nightly recount takes the served lists from the live rows."""

    served: int = 0
    impressions: int = 0
    clicks: int = 0
    carts: int = 0
    purchases: int = 0
    revenue: float = 0.0


def outcome_of(event_type: str, price: float | None, quantity: int | None) -> Outcome | None:
    """What an event carrying an arm's recommendation id adds, None when it adds nothing:
    impressions are exposures; clicks, carts and purchases (with their revenue, price times
    quantity) are the metrics' numerators."""
    if event_type == "impression":
        return Outcome(impressions=1)
    if event_type == "click":
        return Outcome(clicks=1)
    if event_type == "cart":
        return Outcome(carts=1)
    if event_type == "purchase":
        return Outcome(purchases=1, revenue=round((price or 0.0) * (quantity or 1), 6))
    return None


def add_outcome(counts: VariantCounts, before: Outcome | None, after: Outcome) -> VariantCounts:
    """The variant's counts once one unit's totals went from ``before`` (None: a unit not
    seen yet) to ``after``: each unit counts once per metric, revenue squares move by the
    change in the unit's square."""
    was = before or Outcome()
    return counts + VariantCounts(
        units=0 if before else 1,
        exposures=after.served + after.impressions - was.served - was.impressions,
        clicks=after.clicks - was.clicks,
        clicking_units=int(after.clicks > 0 and was.clicks == 0),
        carting_units=int(after.carts > 0 and was.carts == 0),
        purchasing_units=int(after.purchases > 0 and was.purchases == 0),
        revenue=after.revenue - was.revenue,
        revenue_squares=after.revenue ** 2 - was.revenue ** 2,
    )


def combine(a: Outcome, b: Outcome) -> Outcome:
    """Two outcomes of one unit added up."""
    return Outcome(*(getattr(a, f.name) + getattr(b, f.name) for f in fields(a)))
