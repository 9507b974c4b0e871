"""The nightly attribution step: the experiments' recount and the live CTR, on a synthetic lake.

    python benchmarks/attribution.py [--events 2000000] [--attributed 0.05] [--repeats 3]

Writes a lake of ``--events`` events over the 8 days before the as-of date (the CTR's span,
and an experiment created on the first of them), one zstd Parquet file per 10,000 events of
one day as the lander writes them, with UUID-sized event ids. ``--attributed`` of the events
carry a recommendation id: half of those name an arm of the running experiment (two
variants, by user), half only a model version; 1 % of them are sent twice (redeliveries in
another file). The live side holds a served list for every unit in the experiment.

Each repeat runs the real ``attribution_step`` in a fresh interpreter, as a Lambda invocation
would, on a directory-backed bucket (reading files, not the network) and the in-memory
experiments store, and prints its wall time, CPU seconds and peak resident memory (imports
included); the medians are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers/core"))

from recs.stores.directory import DirectoryObjectStore  # noqa: E402  (the bucket as a directory)

AS_OF = date(2026, 11, 23)
EXPERIMENT = "20261115T000000-bench1"
FILE_EVENTS = 10_000


def write_lake(root: Path, events: int, attributed: float, users: int) -> dict[str, int]:
    """The synthetic lake under ``root``; returns what it holds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recs.contracts import layout
    from recs.formats.event_files import SCHEMA

    rng = np.random.default_rng(7)
    store = DirectoryObjectStore(root)
    first_day = AS_OF - timedelta(days=8)
    start_ms = int(datetime(first_day.year, first_day.month, first_day.day,
                            tzinfo=UTC).timestamp() * 1000)
    ts = np.sort(rng.integers(start_ms, start_ms + 8 * 86_400_000, events))
    user = rng.integers(0, users, events)
    item = rng.integers(0, 50_000, events)
    kinds = np.array(["view", "click", "cart", "purchase", "impression"])
    has_rid = rng.random(events) < attributed
    in_arm = has_rid & (rng.random(events) < 0.5)
    # Attributed events are mostly impressions, then clicks, carts and purchases.
    kind = np.where(has_rid, rng.choice([4, 1, 2, 3], events, p=[0.8, 0.12, 0.05, 0.03]),
                    rng.choice([0, 1, 2, 3], events, p=[0.7, 0.15, 0.1, 0.05]))
    response = rng.integers(0, max(1, int(events * attributed / 10)), events)
    rids = np.full(events, None, dtype=object)
    variant = user % 2
    for i in np.flatnonzero(has_rid):
        arm = f".{EXPERIMENT}~{variant[i]}~u" if in_arm[i] else ""
        rids[i] = f"{response[i]:016x}.20261114-live{arm}.personalised"
    ids = np.array([f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(events)], dtype=object)
    price = np.where(kind == 3, rng.choice([2.5, 9.99, 24.0], events), np.nan)
    repeat = np.flatnonzero(has_rid & (rng.random(events) < 0.01))
    files = 0
    day_of = (ts - start_ms) // 86_400_000
    for day_index in range(8):
        rows = np.flatnonzero(day_of == day_index)
        dt = (first_day + timedelta(days=day_index)).isoformat()
        chunks = [rows[s:s + FILE_EVENTS] for s in range(0, len(rows), FILE_EVENTS)]
        again = repeat[day_of[repeat] == day_index]
        if len(again):
            chunks.append(again)  # redelivered: the same events in another file
        for part, chunk in enumerate(chunks):
            table = pa.Table.from_arrays([
                pa.array(ids[chunk], pa.string()),
                pa.array([f"user{u}" for u in user[chunk]], pa.string()),
                pa.nulls(len(chunk), pa.string()),
                pa.array([f"item{i}" for i in item[chunk]], pa.string()),
                pa.array(kinds[kind[chunk]]).dictionary_encode().cast(
                    SCHEMA.field("event_type").type),
                pa.array(ts[chunk], pa.timestamp("ms", tz="UTC")),
                pa.array(np.where(kind[chunk] == 3, 1, 0), pa.int32()).cast(pa.int32()),
                pa.array(price[chunk], pa.float64(), from_pandas=True),
                pa.array(rids[chunk], pa.string()),
                pa.nulls(len(chunk), pa.string()),
                pa.nulls(len(chunk), pa.string()),
                pa.array(ts[chunk], pa.timestamp("ms", tz="UTC")),
            ], schema=SCHEMA)
            buffer = pa.BufferOutputStream()
            pq.write_table(table, buffer, compression="zstd", use_dictionary=True)
            store.put(layout.event_file(dt, f"{day_index}{part:07d}"),
                      buffer.getvalue().to_pybytes())
            files += 1
    return {"events": events, "files": files, "attributed": int(has_rid.sum()),
            "in_experiment": int(in_arm.sum()), "redelivered": len(repeat),
            "units": len(np.unique(user[in_arm]))}


def child(bucket: Path, users: int) -> None:
    """One run of the step in this fresh interpreter; prints seconds, CPU and peak memory."""
    from recs.batch.steps.attribution import attribution_step
    from recs.contracts.experiments import Outcome
    from recs.stores.memory import MemoryExperimentStore

    store = MemoryExperimentStore()
    store.create({"id": EXPERIMENT, "name": "bench", "surface": "recommendations",
                  "unit": "user", "variants": [{"name": "a", "weight": 0.5, "control": True},
                                               {"name": "b", "weight": 0.5}],
                  "minimum_detectable_effect": 0.05, "primary_metric": "ctr",
                  "status": "running", "created_at": "2026-11-15T00:00:00+00:00"})
    first_ms = int(datetime(2026, 11, 15, tzinfo=UTC).timestamp() * 1000)
    for u in range(0, users, 4):  # a quarter of the shoppers were served in the experiment
        store.record(EXPERIMENT, u % 2, f"user{u}", Outcome(served=1), first_ms + u)
    objects = DirectoryObjectStore(bucket)
    reset_peak_memory()
    start, cpu = time.perf_counter(), time.process_time()
    state = attribution_step({"as_of": AS_OF.isoformat()}, objects, store)
    result = {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
              "peak_mb": peak_memory_mb(), "attribution": state["attribution"]}
    print(json.dumps(result))


def reset_peak_memory() -> None:
    """Start the peak-RSS count afresh (Linux ``clear_refs``), where there is one."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mb() -> float:
    import resource

    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--attributed", type=float, default=0.05)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.users)
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        lake = write_lake(Path(tmp), args.events, args.attributed, args.users)
        print(f"lake written in {time.perf_counter() - start:.1f} s: {lake}", flush=True)
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, __file__, "--child", tmp,
                                  "--users", str(args.users)],
                                 check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                              for k, v in runs[-1].items() if k != "attribution"}), flush=True)
    summary = runs[-1]["attribution"]
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {lake['events']:,} events in {lake['files']} files, "
          f"{lake['attributed']:,} with a recommendation id ({lake['in_experiment']:,} in the "
          f"experiment, {lake['redelivered']:,} sent twice)\n")
    print("| wall s (median) | CPU s (median) | peak MB (median) | runs | read back |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {statistics.median(r['seconds'] for r in runs):.2f} "
          f"| {statistics.median(r['cpu'] for r in runs):.2f} "
          f"| {statistics.median(r['peak_mb'] for r in runs):.0f} | {len(runs)} "
          f"| {summary['attributed_events']:,} distinct attributed events, "
          f"{summary['experiment_events']:,} in the experiment, units "
          f"{summary['experiments']}, CTR change {summary['ctr_change']:+.2f} % |")


if __name__ == "__main__":
    main()
