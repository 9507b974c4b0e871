"""The operator console's admin routes: data health and attribution by version and tier.

Reads what ``recs.contracts.ops`` says is counted where: the daily rows of ingest, the lander
and the nightly attribution step, and the dead-letter queue's depth. The rows are in the
experiments table, so a failing table answers 503 as the experiment routes do; a queue that
does not answer leaves ``dead_letters`` null rather than failing the days that were read.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from recs.contracts.ops import last_days, totals
from recs.exceptions import StoreError
from recs.stores.ports import OpsStore, QueueDepth

logger = logging.getLogger(__name__)


def health_report(store: OpsStore, dead_letters: QueueDepth | None, today: date,
                  days: int) -> dict[str, Any]:
    """``GET /ops/health``: every day of the span, oldest first, and the queue's depth."""
    rows = store.health(last_days(today, days))
    depth: int | None = None
    if dead_letters is not None:
        try:
            depth = dead_letters.depth()
        except StoreError as exc:
            logger.warning("dead-letter queue depth unknown: %s", exc)
    return {"days": [row.to_dict() for row in rows], "dead_letters": depth}


def attribution_report(store: OpsStore, today: date, days: int) -> dict[str, Any]:
    """``GET /ops/attribution``: the recounted days of the span and their totals."""
    found = store.attribution(last_days(today, days))
    return {"days": {day: [cell.to_dict() for cell in cells]
                     for day, cells in sorted(found.items())},
            "totals": [cell.to_dict() for cell in
                       totals([cell for cells in found.values() for cell in cells])]}
