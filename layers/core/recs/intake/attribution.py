"""Count events toward the experiment arm their recommendation id names, as they arrive.

The arm travels in the id (``recs.contracts.ids``), so nothing is read to attribute an
event: its unit is the event's user id or session id, as the arm's unit kind says, and what
it adds is ``outcome_of`` its type. Each count is one write keyed by the event id, so a
redelivered event (a client's retry, SQS's at-least-once) counts once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from recs.contracts.events import Event
from recs.contracts.experiments import Outcome, outcome_of
from recs.contracts.ids import parse_recommendation_id
from recs.stores.ports import ExperimentStore


def attribution_tasks(store: ExperimentStore, events: Iterable[Event],
                      now_ms: int) -> dict[str, Callable[[], object]]:
    """One task per unit of an arm, counting that unit's events one after the other: two
    events of one unit in one request never race for its row (DynamoDB would serialise
    them; a slower emulator need not), and the tasks of different units run at once."""
    per_unit: dict[tuple[str, int, str], list[tuple[Outcome, str]]] = {}
    for event in events:
        rid = event["recommendation_id"]
        if not rid:
            continue
        arm = parse_recommendation_id(rid).arm
        outcome = outcome_of(event["event_type"], event["price"], event["quantity"])
        unit = event["user_id"] if arm and arm.unit == "u" else event["session_id"]
        if arm is None or outcome is None or not unit:
            continue
        per_unit.setdefault((arm.experiment, arm.variant, unit), []).append(
            (outcome, event["event_id"]))
    return {f"unit {n}": functools.partial(_count, store, key, outcomes, now_ms)
            for n, (key, outcomes) in enumerate(per_unit.items())}


def _count(store: ExperimentStore, key: tuple[str, int, str],
           outcomes: list[tuple[Outcome, str]], now_ms: int) -> None:
    experiment, variant, unit = key
    for outcome, event_id in outcomes:
        store.record(experiment, variant, unit, outcome, now_ms, event_id)
