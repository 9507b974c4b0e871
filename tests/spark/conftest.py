"""One local SparkSession for the whole test session, and the comparison of two engines' rows.

Skipped (not failed) where Java is missing: ``make test`` installs Debian's
openjdk-17-jre-headless first, so there it always runs.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recs.stores.ports import RecRow

DAY_MS = 86_400_000
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
AS_OF_MS = int(AS_OF.timestamp() * 1000)
# Scores travel rounded to 4 decimals: float32 sums made in another order may round to the
# next step, and two scores this close are a tie as far as either engine can tell.
SCORE_TOLERANCE = 2e-4


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("Java is missing: make test installs openjdk-17-jre-headless")
    from recs_spark.session import get_session

    session = get_session("recs-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def event_file(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def shop(seed: int = 7, users: int = 90, items: int = 60, events: int = 4000) -> pa.Table:
    """Events of the lander's columns with what the weighting must handle: an event landed
    twice (the same id), purchases cancelled by returns, events over 60 days (decay), a
    reseller past the per-user cap, anonymous sessions and items changing category."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, events)
    item = (rng.zipf(1.4, events) - 1) % items
    kind = rng.choice(["view", "cart", "purchase", "wishlist"], events, p=[.55, .2, .2, .05])
    ts = AS_OF_MS - rng.integers(1, 60 * DAY_MS, events)
    rows = {
        "event_id": [f"e{n}" for n in range(events)],
        "user_id": [None if u % 11 == 0 else f"u{u}" for u in user.tolist()],
        "session_id": [f"s{u}" for u in user.tolist()],
        "item_id": [f"i{i}" for i in item.tolist()],
        "event_type": kind.tolist(),
        "ts": ts.tolist(),
        "category": [None if i % 4 == 0 else f"c{i % 3}/{i % 2}" for i in item.tolist()],
    }
    # Returns that cancel a purchase: the pair's weight sums to zero or less and is dropped.
    for n in range(0, 300, 3):
        if rows["event_type"][n] == "purchase":
            for name in ("user_id", "session_id", "item_id", "category"):
                rows[name].append(rows[name][n])
            rows["event_id"].append(f"r{n}")
            rows["event_type"].append("return")
            rows["ts"].append(rows["ts"][n] + 3_600_000)
    # A reseller: one user with far more items than max_items_per_user.
    for n in range(items):
        rows["event_id"].append(f"x{n}")
        rows["user_id"].append("reseller")
        rows["session_id"].append("s-reseller")
        rows["item_id"].append(f"i{n}")
        rows["event_type"].append("purchase")
        rows["ts"].append(AS_OF_MS - (n + 1) * 3_600_000)
        rows["category"].append(None)
    # The same events delivered twice (SQS: at least once), and some outside the window.
    for name in rows:
        rows[name].extend(rows[name][100:160])
    rows["ts"][-5:] = [AS_OF_MS + DAY_MS] * 5
    return pa.table({**rows, "ts": pa.array(rows["ts"], pa.timestamp("ms", tz="UTC"))})


@dataclass
class Comparison:
    """How two engines' rows compare: equal, equal but for the order of tied entries, or
    not the same (``different`` names them)."""

    rows: int = 0
    exact: int = 0
    tied_rows: int = 0
    tied_entries: int = 0  # entries placed differently within a run of tied scores
    reasons: int = 0  # the same item with another reason (tied terms behind it)
    different: list[str] = field(default_factory=list)


def compare(want: Iterable[RecRow], got: Iterable[RecRow]) -> Comparison:
    expected = {row.key: row for row in want}
    found = {row.key: row for row in got}
    result = Comparison(rows=len(expected))
    result.different.extend(sorted(set(expected) ^ set(found))[:10])
    for key in sorted(set(expected) & set(found)):
        a, b = expected[key], found[key]
        if list(a.history) != list(b.history):
            result.different.append(f"{key}: history")
            continue
        entries_a = [list(e) for e in a.items]
        entries_b = [list(e) for e in b.items]
        if entries_a == entries_b:
            result.exact += 1
            continue
        tied, reasons = _tied(entries_a, entries_b)
        if tied is None:
            result.different.append(f"{key}: {entries_a[:4]} vs {entries_b[:4]}")
            continue
        result.tied_rows += 1
        result.tied_entries += tied
        result.reasons += reasons
    return result


def _tied(a: Sequence[list[Any]], b: Sequence[list[Any]]) -> tuple[int | None, int]:
    """Entries placed differently within runs of tied scores, and reasons that differ for
    the same item; None when the lists differ otherwise."""
    if len(a) != len(b):
        return None, 0
    scores_a = [float(e[1]) for e in a]
    scores_b = [float(e[1]) for e in b]
    if any(abs(x - y) > SCORE_TOLERANCE for x, y in zip(scores_a, scores_b, strict=True)):
        return None, 0
    moved, start = 0, 0
    while start < len(a):
        stop = start + 1
        while stop < len(a) and abs(scores_a[stop] - scores_a[stop - 1]) <= SCORE_TOLERANCE:
            stop += 1
        run_a = {e[0] for e in a[start:stop]}
        run_b = {e[0] for e in b[start:stop]}
        # A run cut by the list's end may hold other members of the tie.
        if run_a != run_b and stop < len(a):
            return None, 0
        moved += sum(x[0] != y[0] for x, y in zip(a[start:stop], b[start:stop], strict=True))
        start = stop
    reasons = sum(x[0] == y[0] and x[2:] != y[2:] for x, y in zip(a, b, strict=True))
    return moved, reasons
