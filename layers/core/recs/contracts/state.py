"""The state the nightly batch steps hand each other through Step Functions.

Each step is given the whole state and returns it with its own keys added (the state
machine passes the JSON on unchanged), so every key below arrives at some step and not
before: ``total=False``, and a step reads with ``state["key"]`` only what an earlier step
always writes. At runtime the state is the plain dict Step Functions delivers; these types
exist for mypy, which checks every key a step reads or writes against them.

Who writes what (in the state machine's order):

- the run's input: ``as_of`` (optional; today in UTC otherwise)
- weight: ``as_of``, ``window_start``, ``version``, ``engine`` (which engine trains the
  window: the state machine's Choice reads it), the S3 keys ``window_key`` (the event files
  it read, which tuning and evaluate read again), ``interactions_key``, ``catalog_key``,
  ``counts``, and ``skipped`` (the inputs it could not use); on the ``spark`` engine it
  only sizes the window and leaves the rest to the job
- spark job (``spark`` engine only): writes ``layout.spark_manifest``, a ``SparkManifest``;
  the state machine keeps the job run's id in ``spark_job``
- train: ``model_key``, ``params_key``, ``tuning``, more ``counts`` (on the ``spark``
  engine, read from the job's manifest, with ``events_key``, ``rows_prefix`` and
  ``shadow_key``)
- evaluate: ``gate`` (read by the state machine's Choice on ``$.gate.ok``) and ``metrics``
- export: the row ``counts``, and ``retired`` (superseded versions whose rows it deleted)
- promote: ``promoted``, ``changed``, ``live_version``, and ``reason`` or
  ``previous_version``
- attribution: ``attribution`` (the experiments recounted and the live CTR's change); when
  it fails, the state machine puts its error in ``attribution_error`` and still succeeds
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
    # weight: inputs it could not use (``Skipped`` names the first of them), and the bytes
    # they are a share of; past ``RECS_MAX_UNREADABLE_SHARE`` of either the run fails.
    event_bytes: int
    skipped_event_files: int
    skipped_event_bytes: int
    catalog_bytes: int
    skipped_catalog_lines: int
    skipped_catalog_bytes: int
    # train
    users_with_recommendations: int
    items_with_neighbours: int
    categories: int
    # export: a version is promoted only when the two agree
    rows_expected: int
    rows_written: int
    # spark engine: the row files the job wrote (the export's Distributed Map children)
    row_files: int


class TuningRecord(TypedDict, total=False):
    """What tuning chose and how (``recs.batch.evaluation.tuning.TuningResult.record``);
    ``{"skipped": why}`` when the window was too small, empty when tuning is off."""

    params: dict[str, Any]  # BatchConfig fields, values of each field's own type
    category_weights: int
    validation: dict[str, float]  # the next-basket objective's, of the chosen setting
    # The discovery objective's choice (``params``: the settings of the discovery part) and
    # its ``validation`` on items new to the user; only for a model with a discovery part.
    discovery: dict[str, Any]
    # The short-history stage (``tuning.choose_short``): ``discovery`` is the part chosen for
    # shoppers with at most ``history_items`` items ("" for none), with what was tried
    # (mean NDCG@K on their new validation items) and the paired ``gain`` [mean, low, high].
    short: dict[str, Any]
    trials: int
    seconds: float
    complete: bool
    sample: dict[str, float]
    skipped: str
    # True when a re-run of the version took the choice its first run recorded
    # (``recs.contracts.layout.tuning_choice``) instead of tuning again
    reused: bool
    # The discoveries the grid could choose from, when the engine trains fewer than the
    # single-node one (the Spark engine: ``recs_spark.similarity.DISCOVERIES``)
    discoveries: list[str]


# Skipped inputs named in the state and the registry record, per kind.
MAX_REPORTED = 20


class SkippedInput(TypedDict, total=False):
    """An input the weight step left out, and why: an event file (``key``, its ``bytes``)
    or a catalog delta's line (``key``, the 1-based ``line``, its ``bytes``; no ``line`` when
    the whole delta was unusable)."""

    key: str
    reason: str
    bytes: int
    line: int


class Skipped(TypedDict, total=False):
    """The inputs the weight step skipped, at most ``MAX_REPORTED`` of each kind in key
    order (the state travels through Step Functions, whose payloads are bounded); ``counts``
    holds how many there were in all."""

    events: list[SkippedInput]
    catalog: list[SkippedInput]


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


class AttributionCounts(TypedDict, total=False):
    """What the attribution step read and recounted (``recs.batch.steps.attribution``)."""

    experiments: dict[str, int]  # experiment id -> units in its recount
    partitions: int
    files: int
    attributed_events: int  # distinct events with a recommendation id read
    experiment_events: int  # of those, the ones that count toward a recounted arm
    skipped_event_files: int
    skipped: list[SkippedInput]  # at most MAX_REPORTED
    ctr_change: float | None  # percent; None when there is nothing to compare


class SparkManifest(TypedDict, total=False):
    """What the Spark job wrote for a version (``layout.spark_manifest``): the keys and counts
    the single-node weight and train steps would have put in the state. ``events_key`` is
    a hashed user sample of the window (tuning and the gate's hold-out need only that), and
    ``model_key`` a model of those users' lists with every item's neighbours and trending,
    so evaluate and the next nights' comparisons read it as they read a single-node model."""

    events_key: str
    catalog_key: str
    model_key: str
    params_key: str
    shadow_key: str
    rows_prefix: str
    tuning: TuningRecord
    counts: Counts
    seconds: float


class BatchState(TypedDict, total=False):
    """The JSON object each batch step receives and returns."""

    # the run's input, normalised by weight to an ISO date
    as_of: str
    # weight
    window_start: str
    version: str
    engine: str  # "lambda" or "spark" (recs.batch.engine)
    window_key: str  # layout.window_files: the event files read (lambda engine)
    events_key: str  # layout.window_events: the Spark job's sample (spark engine, by train)
    interactions_key: str
    catalog_key: str
    counts: Counts
    skipped: Skipped
    # train
    model_key: str
    params_key: str
    tuning: TuningRecord
    rows_prefix: str  # spark engine: the row files the export's Distributed Map writes
    shadow_key: str  # spark engine: the hold-out's shadow model, which evaluate scores
    spark_job: dict[str, Any]  # spark engine: the job run (its id), as the task returned it
    # evaluate
    gate: GateVerdict
    metrics: Metrics
    # export
    retired: list[str]
    # promote
    promoted: bool
    changed: bool  # True only when this run moved the live pointer
    live_version: str | None
    previous_version: str | None
    reason: str
    # attribution (after promote; its failure is caught, see recs.batch.pipeline)
    attribution: AttributionCounts
    attribution_error: dict[str, str]  # Step Functions' Error and Cause
