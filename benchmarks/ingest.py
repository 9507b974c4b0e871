"""Ingest speed and Parquet size: validation + normalisation per core, and the file's size.

Budgets (docs/architecture.md): at least 20,000 events/s per core through validation and
encoding, and Parquet at most 1/8 of the same events as JSON lines.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from recs.formats import event_files  # noqa: E402
from recs.intake.ingest import ingest  # noqa: E402
from recs.intake.validation import validate_event  # noqa: E402
from recs.stores.memory import MemoryEventQueue  # noqa: E402
from recs_local.sample_data import generate  # noqa: E402


def main() -> None:
    end = datetime(2026, 11, 20, tzinfo=UTC)
    raw = generate(users=4000, seed=11, end=end)
    now = int(end.timestamp() * 1000) + 60_000
    batches = [raw[i:i + 500] for i in range(0, len(raw), 500)]

    start = time.perf_counter()
    for batch in batches:
        ingest(batch, MemoryEventQueue(), now=now)
    ingest_rate = len(raw) / (time.perf_counter() - start)

    normalised = [{**validate_event(e, now), "received_at": now} for e in raw]
    start = time.perf_counter()
    parquet = event_files.encode(normalised)
    encode_rate = len(raw) / (time.perf_counter() - start)
    json_lines = "\n".join(json.dumps(e) for e in normalised).encode()

    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}, one process",
        "",
        "| what | measured | budget |",
        "| --- | --- | --- |",
        f"| POST /events logic (validate, dedupe, group by date, pack SQS messages) | "
        f"{ingest_rate:,.0f} events/s | >= 20,000 events/s per core |",
        f"| lander encoding to zstd Parquet | {encode_rate:,.0f} events/s | - |",
        f"| Parquet size vs JSON lines ({len(raw):,} events) | {len(parquet):,} B vs "
        f"{len(json_lines):,} B = 1/{len(json_lines) / len(parquet):.1f} | <= 1/8 |",
    ]
    text = "\n".join(lines)
    print(text)
    (ROOT / "benchmarks/results/ingest.md").write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
