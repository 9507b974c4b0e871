"""Step 6, attribution: the nightly exact recount of experiments and the live model's CTR.

Runs after promote and decides nothing about the model: it recounts every experiment that
is running, or was stopped in the last ``RECENTLY_STOPPED`` days (so the events of the stop
day and those that landed late are counted once the day is whole), from the lake's events
of the experiment's creation day up to the as-of midnight, and writes the counts with
``ExperimentStore.put_exact``. Each night recounts from the start, so a night that fails or
is skipped loses nothing but that night's freshness. The same read gives the change in the
click-through rate of recommended items, yesterday against the seven days before it, and the
operator console's attribution by model version and tier for each of those eight days
(``OpsStore.put_attribution``, rewritten each night, so late events count).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from recs.batch.attribution import (
    arm_events,
    ctr_change,
    lake_days,
    read_attributed,
    recount,
    tier_counts,
)
from recs.batch.steps import as_of, midnight_ms
from recs.batch.window import FileReport
from recs.contracts import layout
from recs.contracts.experiments import Experiment
from recs.contracts.state import MAX_REPORTED, AttributionCounts, BatchState
from recs.exceptions import StoreError
from recs.stores.ports import ExperimentStore, ObjectStore, OpsStore

logger = logging.getLogger(__name__)

RECENTLY_STOPPED = 2  # days after its stop an experiment is still recounted
CTR_DAYS = 8  # yesterday and the seven days before it


def attribution_step(state: BatchState, objects: ObjectStore,
                     experiments: ExperimentStore, ops: OpsStore | None = None) -> BatchState:
    """Recount the experiments still being watched, measure the live CTR's change and, with
    ``ops``, store the last ``CTR_DAYS`` days' attribution by version and tier; the state
    gains ``attribution`` (what was read and recounted, and the change). A failed write of
    the console's attribution is logged and leaves the recount standing."""
    day = as_of(state)
    watched = [e for e in experiments.list() if still_counted(e, day)]
    first = min([day - timedelta(days=CTR_DAYS), *(created_on(e) for e in watched)])
    start, end = lake_days(first, day)
    keys = [key for key in objects.list(layout.EVENTS)
            if (dt := layout.event_file_date(key)) is not None and start <= dt <= end]
    report = FileReport()
    events = read_attributed(objects, keys, report)
    arms = arm_events(events, [e["id"] for e in watched])
    recounted: dict[str, int] = {}
    for experiment in watched:
        counts = recount(arms, experiment["id"], experiments.units(experiment["id"]),
                         day.isoformat())
        experiments.put_exact(experiment["id"], counts)
        recounted[experiment["id"]] = sum(c.units for c in counts.totals.values())
    if ops is not None:
        try:
            ops.put_attribution(tier_counts(events, day - timedelta(days=CTR_DAYS),
                                            day - timedelta(days=1)))
        except StoreError as exc:
            logger.warning("attribution by tier not stored: %s", exc)
    summary: AttributionCounts = {
        "experiments": recounted,  # id -> units counted
        "partitions": len({layout.event_file_date(key) for key in keys}),
        "files": len(keys),
        "attributed_events": events.num_rows,
        "experiment_events": arms.num_rows,
        "skipped_event_files": len(report.skipped),
        "skipped": report.skipped[:MAX_REPORTED],
        "ctr_change": ctr_change(events, day),
    }
    return {**state, "as_of": day.isoformat(), "attribution": summary}


def created_on(experiment: Experiment) -> date:
    return _moment(experiment["created_at"]).date()


def still_counted(experiment: Experiment, day: date) -> bool:
    """Running, or stopped no earlier than ``RECENTLY_STOPPED`` days before the as-of
    midnight."""
    if experiment.get("status") == "running":
        return True
    stopped = experiment.get("stopped_at")
    if not stopped:
        return False
    since_ms = midnight_ms(day - timedelta(days=RECENTLY_STOPPED))
    return _moment(stopped).timestamp() * 1000 >= since_ms


def _moment(value: str) -> datetime:
    """An ISO time the registry wrote (``validate_experiment``, ``stop_experiment``: UTC
    with an offset); one without an offset is read as UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
