"""The experiment contract: what an operator declares, what the registry stores, what answers say.

An experiment splits the units (users or sessions) of one surface between variants by a
salted hash, so assignment needs no stored state and an answer's ``recommendation_id``
carries the experiment and the variant for attribution without a lookup.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

SURFACES = ("recommendations", "similar", "trending", "all")
UNITS = ("user", "session")
METRICS = ("ctr", "add_to_cart_rate", "conversion_rate", "revenue_per_unit")
STATUSES = ("running", "stopped")
# The settings a variant may change on the read path (ServingConfig field names), with
# their bounds: whole numbers or not, smallest, largest.
SERVING_OVERRIDES: dict[str, tuple[bool, float, float]] = {
    "new_arrival_share": (False, 0.0, 1.0),
    "long_tail_share": (False, 0.0, 1.0),
    "max_per_category": (True, 1, 100),
}

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
