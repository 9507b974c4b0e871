"""Small known-answer shops for the tuning's tests: events from (user, item, type, day) rows,
and grids that hold every setting but the ones a test lets the tuning choose."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from recs.batch.config import BatchConfig
from recs.batch.evaluation import tuning

DAY_MS = 86_400_000
T0 = 1_700_000_000_000


def event_table(rows: list[tuple[str, str, str, float]]) -> pa.Table:
    """The events of (user, item, event type, day since T0) rows, a millisecond apart in row
    order so that equal days keep it."""
    ts = [T0 + int(day * DAY_MS) + n for n, (*_, day) in enumerate(rows)]
    return pa.table({
        "event_id": [f"e{n}" for n in range(len(rows))],
        "user_id": [r[0] for r in rows],
        "session_id": pa.nulls(len(rows), pa.string()),
        "item_id": [r[1] for r in rows],
        "event_type": [r[2] for r in rows],
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "category": pa.nulls(len(rows), pa.string()),
    })


def only(config: BatchConfig, **choices: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """A grid holding the configured value of every setting, and ``choices``."""
    return {**{name: (getattr(config, name),) for name in tuning.GRID}, **choices}
