"""The state the nightly batch steps hand each other through Step Functions.

Each step is given the whole state and returns it with its own keys added (the state
machine passes the JSON on unchanged), so every key below arrives at some step and not
before: ``total=False``, and a step reads with ``state["key"]`` only what an earlier step
always writes. At runtime the state is the plain dict Step Functions delivers; these types
exist for mypy, which checks every key a step reads or writes against them.

Who writes what (in the state machine's order):

- the run's input: ``as_of`` (optional; today in UTC otherwise)
- weight: ``as_of``, ``window_start``, ``version``, the S3 keys ``events_key``,
  ``interactions_key``, ``catalog_key``, and ``counts``
- train: ``model_key``, ``params_key``, ``tuning``, more ``counts``
- evaluate: ``gate`` (read by the state machine's Choice on ``$.gate.ok``) and ``metrics``
- export: the row ``counts``
- promote: ``promoted``, ``live_version``, and ``reason`` or ``previous_version``
"""

from __future__ import annotations

from typing import Any, TypedDict


class Counts(TypedDict, total=False):
    """Sizes of the run, kept in the registry beside the version; promotion checks two."""

    # weight
    partitions: int
    events: int
    users: int
    items: int
    interactions: int
    catalog_items: int
    # train
    users_with_recommendations: int
    items_with_neighbours: int
    categories: int
    # export: a version is promoted only when the two agree
    rows_expected: int
    rows_written: int


class TuningRecord(TypedDict, total=False):
    """What tuning chose and how (``recs.batch.evaluation.tuning.TuningResult.record``);
    ``{"skipped": why}`` when the window was too small, empty when tuning is off."""

    params: dict[str, Any]  # BatchConfig fields, values of each field's own type
    category_weights: int
    validation: dict[str, float]
    trials: int
    seconds: float
    complete: bool
    sample: dict[str, float]
    skipped: str


class GateVerdict(TypedDict):
    """The promotion gate's decision on the candidate."""

    ok: bool
    reason: str


class Metrics(TypedDict, total=False):
    """The hold-out evaluation: the candidate's metrics, and live's when it was comparable."""

    holdout_days: float
    holdout_events: int
    candidate: dict[str, float]
    live: dict[str, float]
    live_version: str
    live_skipped: str  # why live was not compared


class BatchState(TypedDict, total=False):
    """The JSON object each batch step receives and returns."""

    # the run's input, normalised by weight to an ISO date
    as_of: str
    # weight
    window_start: str
    version: str
    events_key: str
    interactions_key: str
    catalog_key: str
    counts: Counts
    # train
    model_key: str
    params_key: str
    tuning: TuningRecord
    # evaluate
    gate: GateVerdict
    metrics: Metrics
    # promote
    promoted: bool
    live_version: str | None
    previous_version: str | None
    reason: str
