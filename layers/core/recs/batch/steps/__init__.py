"""The nightly batch steps, as plain functions of (state, stores, config).

Each Lambda handler is one call to one of these. A step reads what earlier steps wrote to S3
(the keys are in ``state``, a ``recs.contracts.state.BatchState``), writes its own output
under the model version's prefix (``recs.contracts.layout``), and returns ``state`` with its
keys added. Outputs are derived from the inputs alone, so re-running
a step, or a whole day, gives the same version and the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime

from recs.contracts.state import BatchState
from recs.exceptions import ValidationError


def as_of(state: BatchState) -> date:
    """The run's date: training uses events strictly before its midnight (UTC)."""
    raw = state.get("as_of")
    if not raw:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError as exc:
        raise ValidationError("as_of", "must be a date like 2026-11-23") from exc


def midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def skipped_inputs(state: BatchState) -> int:
    """How many inputs the run could not use: event files and catalog lines (the
    ``UnreadableInputs`` metric the weight function emits)."""
    counts = state.get("counts", {})
    return int(counts.get("skipped_event_files", 0)) + int(
        counts.get("skipped_catalog_lines", 0))


def describe(state: BatchState) -> str:
    """One line for logs and the demo's progress output."""
    fields: Mapping[str, object] = state
    return json.dumps({k: fields[k] for k in ("version", "counts", "promoted", "reason",
                                              "skipped", "retired") if k in fields})
