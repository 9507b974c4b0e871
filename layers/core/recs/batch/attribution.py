"""The exact recount of experiments and the live model's click-through rate, from the lake.

The live counters (``recs.stores.ports.ExperimentStore.record``) are exact unless a write
fails or a unit's memory of event ids is full; the lake holds every event that landed, each
possibly twice (SQS delivers at least once). So the nightly recount reads the events that
carry a recommendation id, keeps each event id once, and counts them again by the same rules
the live path uses (``outcome_of``, ``add_outcome``): the same events seen once give the
same numbers, and a double count on the live side is corrected.

Only events with a recommendation id matter (a few percent of the lake), so each file is
read with the columns needed and filtered on ``recommendation_id`` as Parquet decodes it;
nothing per event is built in Python. The ids themselves are parsed once per distinct value
that could name an arm (those holding ``~``), with the contract's own parser, and the outcome
of each distinct (event type, price, quantity) with ``outcome_of``, so the rules cannot drift
from the live path's. Python loops only over units (per day), never over events.

A file that cannot be read is skipped and noted in the ``FileReport``, as the weight step
does: the recount is advisory, and one bad file must not stop it for the whole experiment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recs.batch import window
from recs.batch.window import FileReport
from recs.contracts.experiments import Outcome, VariantCounts, add_outcome, combine, outcome_of
from recs.contracts.ids import Arm, parse_recommendation_id
from recs.contracts.ops import TierCounts, bounded
from recs.stores.ports import ExactCounts, ObjectStore, UnitTotals

# What the recount and the CTR read of each file; item_id only for the CTR's distinct pairs.
COLUMNS = ("event_id", "event_type", "user_id", "session_id", "recommendation_id", "item_id",
           "price", "quantity", "ts")
_EXPECTED = window.conformed(COLUMNS)
DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
_OUTCOME_FIELDS = tuple(f.name for f in fields(Outcome))
_EVENT_FIELDS = tuple(name for name in _OUTCOME_FIELDS if name != "served")
_COUNT_FIELDS = tuple(f.name for f in fields(VariantCounts))
K = TypeVar("K", int, tuple[int, int])  # a variant, or a day and a variant
U = TypeVar("U", bound=Hashable)


# -- reading -----------------------------------------------------------------------------------
def read_attributed(objects: ObjectStore, keys: Sequence[str],
                    report: FileReport | None = None) -> pa.Table:
    """The events at ``keys`` that carry a recommendation id, each event id once (the first
    row of it, in key order), with ``COLUMNS`` and ``day`` (days since 1970-01-01, UTC)."""
    report = FileReport() if report is None else report
    tables = [table for _, table in window.readable_files(objects, keys, report, read_file)
              if table.num_rows]
    table = (pa.concat_tables(tables).combine_chunks() if tables
             else _EXPECTED.empty_table())
    table = first_of_each_event(table)
    days = pc.divide(table["ts"].cast(pa.int64()), DAY_MS)  # ts >= 2000: truncation is floor
    return table.append_column("day", days.cast(pa.int32()))


def read_file(blob: bytes) -> tuple[pa.Table | None, str]:
    """One event file's rows that carry a recommendation id, as ``COLUMNS``: the weight
    step's reading and checks (``recs.batch.window.read_file``) on fewer columns and rows."""
    return window.read_file(blob, COLUMNS, where_set="recommendation_id")


def first_of_each_event(table: pa.Table) -> pa.Table:
    """The first row of each event id (a redelivered event is in the lake twice); rows
    without an id are all kept."""
    if not table.num_rows:
        return table
    encoded = pc.dictionary_encode(table["event_id"]).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    valid = encoded.indices.is_valid().to_numpy(zero_copy_only=False)
    _, first = np.unique(np.where(valid, codes, -1), return_index=True)
    keep = np.zeros(table.num_rows, dtype=bool)
    keep[first] = True
    keep |= ~valid
    return table if keep.all() else table.filter(pa.array(keep))


# -- the recount -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArmEvents:
    """The events that count toward the arms of the experiments being recounted: one row
    per event, with its experiment, variant position, unit id, day and ``Outcome`` fields."""

    table: pa.Table  # experiment, variant, unit, day, impressions, clicks, carts, ...

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)


def arm_events(events: pa.Table, experiments: Iterable[str]) -> ArmEvents:
    """The rows of ``events`` (``read_attributed``'s) whose recommendation id names an arm of
    one of ``experiments`` and that carry the arm's unit id, with what each adds."""
    wanted = set(experiments)
    rid = events["recommendation_id"]
    may_name_arm = pc.match_substring(rid, "~")  # the rest never reaches Python
    candidates = events.filter(may_name_arm)
    encoded = pc.dictionary_encode(candidates["recommendation_id"]).combine_chunks()
    arm_of_value = np.full(len(encoded.dictionary), -1, dtype=np.int64)
    index: dict[Arm, int] = {}
    for position, value in enumerate(encoded.dictionary.to_pylist()):
        arm = parse_recommendation_id(value).arm
        if arm is not None and arm.experiment in wanted:
            arm_of_value[position] = index.setdefault(arm, len(index))
    arms = list(index)  # in the order of their numbers
    row_arm = arm_of_value[encoded.indices.to_numpy(zero_copy_only=False)] if len(
        encoded) else np.empty(0, dtype=np.int64)
    rows = candidates.filter(pa.array(row_arm >= 0))
    row_arm = row_arm[row_arm >= 0]
    by_user = np.array([arm.unit == "u" for arm in arms], dtype=bool)[row_arm]
    unit = pc.if_else(pa.array(by_user, type=pa.bool_()), rows["user_id"], rows["session_id"])
    outcome = _outcomes(rows)
    has_unit = pc.and_(pc.is_valid(unit), pc.not_equal(pc.fill_null(unit, ""), ""))
    counted = pc.and_(has_unit, pa.array(outcome[:, 0] >= 0)).to_numpy(zero_copy_only=False)
    row_arm, outcome = row_arm[counted], outcome[counted]
    table = pa.table({
        "experiment": pa.array([arms[i].experiment for i in range(len(arms))],
                               type=pa.string()).take(pa.array(row_arm, type=pa.int64())),
        "variant": pa.array(np.array([a.variant for a in arms], dtype=np.int32)[row_arm]
                            if arms else np.empty(0, dtype=np.int32)),
        "unit": unit.filter(pa.array(counted)),
        "day": rows["day"].filter(pa.array(counted)),
        **{name: pa.array(outcome[:, i + 1]) for i, name in enumerate(_EVENT_FIELDS)},
    })
    return ArmEvents(table)


def _outcomes(rows: pa.Table) -> np.ndarray:
    """Per row: a flag (-1: adds nothing) then ``outcome_of``'s impressions, clicks, carts,
    purchases and revenue. ``outcome_of`` is called once per distinct (event type, price,
    quantity), so the rules are the live path's own."""
    out = np.zeros((rows.num_rows, 1 + len(_EVENT_FIELDS)), dtype=np.float64)
    if not rows.num_rows:
        return out
    kinds = pc.dictionary_encode(rows["event_type"]).combine_chunks()
    names = kinds.dictionary.to_pylist()
    # ``outcome_of`` reads a missing price as 0 and a missing (or zero) quantity as 1.
    price = pc.fill_null(rows["price"], 0.0).to_numpy(zero_copy_only=False)
    quantity = pc.fill_null(rows["quantity"], 0).to_numpy(zero_copy_only=False)
    keys = np.column_stack([kinds.indices.to_numpy(zero_copy_only=False).astype(np.float64),
                            price.astype(np.float64), quantity.astype(np.float64)])
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    table = np.zeros((len(distinct), out.shape[1]), dtype=np.float64)
    for position, (kind, unit_price, count) in enumerate(distinct.tolist()):
        outcome = outcome_of(names[int(kind)], unit_price, int(count))
        table[position] = ([0.0, *(getattr(outcome, name) for name in _EVENT_FIELDS)]
                           if outcome else [-1.0] + [0.0] * len(_EVENT_FIELDS))
    result: np.ndarray = table[inverse.reshape(-1)]
    return result


def recount(events: ArmEvents, experiment_id: str, served: Iterable[UnitTotals],
            as_of: str) -> ExactCounts:
    """The experiment's exact counts: per variant position over all its units, and per UTC
    day over the units active that day. Served lists are not in the lake, so each unit's
    ``served`` comes from its live row (``served``) and counts on the day it was first
    counted; a unit only served still counts, a live row that served nothing adds nothing."""
    mine = events.table.filter(pc.equal(events.table["experiment"], experiment_id))
    sums = mine.group_by(["variant", "unit", "day"]).aggregate(
        [(name, "sum") for name in _EVENT_FIELDS])
    columns = {name: sums[f"{name}_sum"].to_pylist() for name in _EVENT_FIELDS}
    keys = zip(sums["variant"].to_pylist(), sums["unit"].to_pylist(), sums["day"].to_pylist(),
               strict=True)
    per_unit: dict[tuple[int, str], Outcome] = {}
    per_day: dict[tuple[int, int, str], Outcome] = {}
    for row, (variant, unit, day) in enumerate(keys):
        outcome = Outcome(served=0, impressions=int(columns["impressions"][row]),
                          clicks=int(columns["clicks"][row]), carts=int(columns["carts"][row]),
                          purchases=int(columns["purchases"][row]),
                          revenue=float(columns["revenue"][row]))
        _add(per_unit, (variant, unit), outcome)
        _add(per_day, (day, variant, unit), outcome)
    for live in served:
        if live.outcome.served > 0:
            outcome = Outcome(served=live.outcome.served)
            _add(per_unit, (live.variant, live.unit), outcome)
            _add(per_day, (live.first_ms // DAY_MS, live.variant, live.unit), outcome)
    totals = _fold((variant, outcome) for (variant, _unit), outcome in per_unit.items())
    days: dict[str, dict[int, VariantCounts]] = {}
    for (day, variant), counts in _fold(((day, variant), outcome) for (day, variant, _unit),
                                        outcome in per_day.items()).items():
        days.setdefault(day_name(day), {})[variant] = counts
    return ExactCounts(as_of, totals, {day: dict(sorted(by_variant.items()))
                                       for day, by_variant in sorted(days.items())})


def _fold(units: Iterable[tuple[K, Outcome]]) -> dict[K, VariantCounts]:
    """``add_outcome`` over units (each a new unit: ``before`` None), per key, in key order.
    Units with the same outcome add the same counts, and most units share a handful of
    outcomes (one impression, one click, ...), so each distinct outcome is added once and
    scaled by the number of its units: at a million units, a few hundred dataclasses."""
    folded: dict[K, VariantCounts] = {}
    for (key, outcome), count in Counter(units).items():
        one = add_outcome(VariantCounts(), None, outcome)
        scaled = VariantCounts(*(getattr(one, name) * count for name in _COUNT_FIELDS))
        folded[key] = folded[key] + scaled if key in folded else scaled
    return dict(sorted(folded.items()))


def _add(into: dict[U, Outcome], key: U, outcome: Outcome) -> None:
    before = into.get(key)
    into[key] = combine(before, outcome) if before else outcome


def day_name(day: int) -> str:
    """``2026-11-23`` for a day number (days since 1970-01-01)."""
    return (_EPOCH + timedelta(days=int(day))).isoformat()


def day_number(day: date) -> int:
    return (day - _EPOCH).days


# -- the live model's click-through rate -----------------------------------------------------
@dataclass(frozen=True)
class Rate:
    """Distinct (recommendation id, item) pairs clicked and shown in a span of days."""

    clicks: int
    impressions: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


def ctr(events: pa.Table, first_day: date, last_day: date) -> Rate:
    """The click-through rate of recommended items over ``first_day``..``last_day`` (UTC,
    both included): an item clicked twice in one list, or a click sent again, counts once."""
    span = events.filter(pc.and_(pc.greater_equal(events["day"], day_number(first_day)),
                                 pc.less_equal(events["day"], day_number(last_day))))

    def pairs(kind: str) -> int:
        rows = span.filter(pc.equal(span["event_type"], kind))
        return int(rows.select(["recommendation_id", "item_id"]).group_by(
            ["recommendation_id", "item_id"]).aggregate([]).num_rows)

    return Rate(pairs("click"), pairs("impression"))


def ctr_change(events: pa.Table, as_of: date) -> float | None:
    """Yesterday's CTR against the seven days before it, in percent (+10: a tenth higher).
    None when either span showed nothing, or the seven days had no click (no rate to
    compare against): a figure made of nothing would set off an alarm on nothing."""
    yesterday = ctr(events, as_of - timedelta(days=1), as_of - timedelta(days=1))
    trailing = ctr(events, as_of - timedelta(days=8), as_of - timedelta(days=2))
    if not yesterday.impressions or not trailing.impressions or not trailing.clicks:
        return None
    return 100.0 * (yesterday.ctr / trailing.ctr - 1.0)


def lake_days(first: date, as_of: date) -> tuple[str, str]:
    """The ``dt`` partitions to read, as an inclusive range of ISO dates: ``first`` through
    the day before ``as_of`` (the run counts whole days, up to the as-of midnight)."""
    return first.isoformat(), (as_of - timedelta(days=1)).isoformat()


# -- attribution by model version and tier (the operator console) -----------------------------
_KINDS = {"impression": "impressions", "click": "clicks", "cart": "carts",
          "purchase": "purchases"}


def tier_counts(events: pa.Table, first_day: date, last_day: date) -> dict[str, list[TierCounts]]:
    """Per UTC day from ``first_day`` to ``last_day`` (every day present, maybe empty), the
    distinct (recommendation id, item) pairs impressed, clicked, carted and bought, by model
    version and tier: ``ctr``'s rule (an item clicked twice in one list counts once), kept
    as counts so any span's rates can be summed from them. Each distinct id is parsed once,
    with the contract's parser."""
    span = events.filter(pc.and_(
        pc.and_(pc.greater_equal(events["day"], day_number(first_day)),
                pc.less_equal(events["day"], day_number(last_day))),
        pc.is_in(events["event_type"], pa.array(list(_KINDS)))))
    pairs = span.select(["day", "event_type", "recommendation_id", "item_id"]).group_by(
        ["day", "event_type", "recommendation_id", "item_id"]).aggregate([])
    per_id = pairs.group_by(["day", "event_type", "recommendation_id"]).aggregate(
        [("item_id", "count")])
    encoded = pc.dictionary_encode(per_id["recommendation_id"]).combine_chunks()
    parts = [bounded(ref.version, ref.tier) for ref in map(
        parse_recommendation_id, encoded.dictionary.to_pylist())]
    indices = encoded.indices
    labelled = pa.table({
        "day": per_id["day"], "event_type": per_id["event_type"],
        "version": pa.array([p[0] for p in parts], pa.string()).take(indices),
        "tier": pa.array([p[1] for p in parts], pa.string()).take(indices),
        "pairs": per_id["item_id_count"]})
    sums = labelled.group_by(["day", "version", "tier", "event_type"]).aggregate(
        [("pairs", "sum")])
    cells: dict[tuple[int, str, str], dict[str, int]] = {}
    for row in sums.to_pylist():
        counts = cells.setdefault((row["day"], row["version"], row["tier"]), {})
        counts[_KINDS[row["event_type"]]] = int(row["pairs_sum"])
    days: dict[str, list[TierCounts]] = {
        day_name(day): [] for day in range(day_number(first_day), day_number(last_day) + 1)}
    for (day, version, tier), counts in sorted(cells.items()):
        days[day_name(day)].append(TierCounts(version, tier, **counts))
    return days
