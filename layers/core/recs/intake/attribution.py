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
from recs.contracts.experiments import outcome_of
from recs.contracts.ids import parse_recommendation_id
from recs.stores.ports import ExperimentStore


def attribution_tasks(store: ExperimentStore, events: Iterable[Event],
                      now_ms: int) -> dict[str, Callable[[], object]]:
    """One write per event that counts toward an arm, keyed by its event id."""
    tasks: dict[str, Callable[[], object]] = {}
    for event in events:
        rid = event["recommendation_id"]
        if not rid:
            continue
        arm = parse_recommendation_id(rid).arm
        outcome = outcome_of(event["event_type"], event["price"], event["quantity"])
        unit = event["user_id"] if arm and arm.unit == "u" else event["session_id"]
        if arm is None or outcome is None or not unit:
            continue
        tasks["event " + event["event_id"]] = functools.partial(
            store.record, arm.experiment, arm.variant, unit, outcome, now_ms,
            event["event_id"])
    return tasks
