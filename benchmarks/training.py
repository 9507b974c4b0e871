"""Single-node batch speed: weight, train and export-row generation on synthetic data.

The budget (docs/architecture.md) is the whole batch for 20 M interactions, 1 M users and
200 k items in 60 s and 2 GB on 2 cores. ``--interactions`` sets the scale (default 2 M so
the run takes a minute); popularity is Zipf-like and users have a category taste, as in shops,
and event ids are random 39-character strings, the size of the UUIDs shops send.
Each step is the real nightly step (``weight_step``, ``train_step``, ``export_step``) in a
fresh interpreter, as the state machine's steps are separate invocations, on an object store
backed by a directory in place of S3 (the network is not in these numbers). Its peak memory
is that process's maximum resident set, the interpreter's imports included, as in a Lambda.
The weight step reads the window's Parquet partitions, written as the lander writes them
(50,000 events a file), and writes the interactions and the window's events; train writes
the model; export makes the DynamoDB rows and counts them (``export_writes.py`` measures
writing them). Without ``--tune`` the train step trains with the configured parameters;
with it, it first tunes in its time box (``RECS_TUNING_SECONDS``), as nightly.
``--similarity`` also times the item-item similarity alone against implicit's
``CosineRecommender.fit`` on the same matrix with the same neighbourhood size and 2 threads
(the budget: no slower than implicit; implicit is a benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import itertools
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recs.algorithms.registry import create
from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.training import algorithm_params, user_item_matrix
from recs.batch.weighting import DAY_MS
from recs.contracts import layout
from recs.formats import event_files
from recs.stores.directory import DirectoryObjectStore
from recs.stores.ports import RecRow

ROOT = Path(__file__).resolve().parents[1]
AS_OF = 1_795_000_000_000
AS_OF_DAY = datetime.fromtimestamp(AS_OF / 1000, UTC).date() + timedelta(days=1)
FILE_EVENTS = 50_000


def synthetic_events(n: int, users: int, items: int, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, n)
    # Zipf-like popularity within 200 categories; each user leans to a few categories.
    category_of_user = rng.integers(0, 200, users)
    in_taste = rng.random(n) < 0.7
    rank = np.minimum((rng.pareto(1.2, n) * 10).astype(np.int64), items // 200 - 1)
    category = np.where(in_taste, category_of_user[user], rng.integers(0, 200, n))
    item = category * (items // 200) + rank
    kinds = np.array(["view", "click", "cart", "purchase", "wishlist"])
    kind = kinds[rng.choice(5, n, p=[0.7, 0.12, 0.09, 0.05, 0.04])]
    ts = AS_OF - rng.integers(1, 60 * DAY_MS, n)
    return pa.table({
        "event_id": pc.binary_join_element_wise(
            *(pa.array(rng.integers(0, 2**63, n)).cast(pa.string()) for _ in range(2)), "-"),
        "user_id": pa.array(user.astype(str)),
        "session_id": pa.nulls(n, pa.string()),
        "item_id": pa.array(item.astype(str)),
        "event_type": pa.array(kind).dictionary_encode(),
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "category": pa.array(np.char.add("c", category.astype(str))),
    })


def write_partitions(table: pa.Table, store: DirectoryObjectStore) -> int:
    """The events as the lander leaves them: daily partitions of zstd Parquet files."""
    table = table.sort_by("ts").cast(pa.schema([event_files.SCHEMA.field(name)
                                                 for name in table.column_names]))
    days = pc.floor_temporal(table["ts"], unit="day").cast(pa.int64()).to_numpy()
    bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
    files = 0
    for start, end in itertools.pairwise(bounds):
        day = datetime.fromtimestamp(days[start] / 1000, UTC).date().isoformat()
        for first in range(int(start), int(end), FILE_EVENTS):
            buffer = io.BytesIO()
            pq.write_table(table.slice(first, min(FILE_EVENTS, int(end) - first)), buffer,
                           compression="zstd", use_dictionary=True)
            store.put(layout.event_file(day, f"{first:09d}"), buffer.getvalue())
            files += 1
    return files


def reset_peak_memory() -> bool:
    """Start the peak-RSS count afresh (Linux ``clear_refs``); False where that is missing."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_memory_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def similarity_timings(interactions: Interactions, config: BatchConfig) -> dict[str, float]:
    """Seconds for the item-item similarity alone: our cosine and the configured discovery
    model, and implicit's cosine when it is installed, all on the same user x item matrix."""
    x = user_item_matrix(interactions)
    out = {}
    for name in dict.fromkeys(("cosine", config.discovery)):
        start = time.perf_counter()
        create(name, **algorithm_params(config, name)).fit(x)
        out[f"similarity alone: ours, {name}"] = time.perf_counter() - start
    try:
        from implicit.nearest_neighbours import CosineRecommender
    except ImportError:
        print("implicit is not installed: pip install implicit")
        return out
    start = time.perf_counter()
    CosineRecommender(K=config.neighbours, num_threads=2).fit(x.tocsr(), show_progress=False)
    out["similarity alone: implicit cosine"] = time.perf_counter() - start
    return out


class CountingRecommendationStore:
    """Takes the export's rows and keeps only their count: writing them is measured apart,
    by ``benchmarks/export_writes.py``."""

    def write(self, rows: Iterable[RecRow]) -> int:
        return sum(1 for _ in rows)

    def get_many(self, keys: Sequence[str], version: str) -> dict[str, list[list[Any]]]:
        return {}


def child_step(name: str, bucket: Path, state_file: Path, params: str) -> None:
    """One nightly step in this fresh interpreter, as the state machine runs each step (its
    own invocation): the real step function on the directory-backed bucket, reading the
    previous step's state from ``state_file`` and writing its own back; prints seconds and
    peak memory (the interpreter's imports included, as in a Lambda)."""
    from recs.batch.steps.export import export_step
    from recs.batch.steps.train import config_from_params, train_step
    from recs.batch.steps.weight import weight_step
    from recs.stores.memory import MemoryModelRegistry

    config = config_from_params(json.loads(params))
    objects = DirectoryObjectStore(bucket)
    state = json.loads(state_file.read_text()) if state_file.exists() else {
        "as_of": AS_OF_DAY.isoformat()}
    reset_peak_memory()
    start = time.perf_counter()
    if name == "weight":
        state = weight_step(state, objects, config)
    elif name == "train":
        state = train_step(state, objects, config)
    else:
        state = export_step(state, objects, CountingRecommendationStore(),
                            MemoryModelRegistry(), config)
    result = {"seconds": time.perf_counter() - start, "peak_mb": peak_memory_mb()}
    state_file.write_text(json.dumps(state))
    print(json.dumps(result))


def run_isolated(name: str, bucket: Path, state_file: Path,
                 config: BatchConfig) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, str(bucket), str(state_file),
         json.dumps(config.as_dict())],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=0, help="default: interactions / 20")
    parser.add_argument("--items", type=int, default=0, help="default: interactions / 100")
    parser.add_argument("--similarity", action="store_true",
                        help="time the similarity alone, ours vs implicit's cosine fit")
    parser.add_argument("--tune", action="store_true",
                        help="the train step tunes first, as nightly (RECS_TUNING_SECONDS)")
    parser.add_argument("--step", nargs=4, metavar=("NAME", "BUCKET", "STATE", "CONFIG"),
                        help=argparse.SUPPRESS)  # the child process of one isolated step
    args = parser.parse_args()
    if args.step:
        child_step(args.step[0], Path(args.step[1]), Path(args.step[2]), args.step[3])
        return
    users = args.users or max(args.interactions // 20, 100)
    items = args.items or max(args.interactions // 100, 2000)
    config = BatchConfig.from_env()
    if not args.tune:
        config = dataclasses.replace(config, tuning_seconds=0)
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}  # each step's own peak resident memory
    aside: dict[str, float] = {}  # measured beside the batch, not part of it
    with tempfile.TemporaryDirectory() as scratch:
        bucket, state_file = Path(scratch) / "bucket", Path(scratch) / "state.json"
        files = write_partitions(synthetic_events(args.interactions, users, items),
                                 DirectoryObjectStore(bucket))
        gc.collect()
        for name in ("weight", "train", "export"):
            label = f"train (tuning in a {config.tuning_seconds:.0f} s box)" if (
                name == "train" and args.tune) else name
            result = run_isolated(name, bucket, state_file, config)
            timings[label], peaks[label] = result["seconds"], result["peak_mb"]
            state = json.loads(state_file.read_text())
            if name == "weight":
                interactions = Interactions.from_bytes(
                    (bucket / state["interactions_key"]).read_bytes())
                if args.similarity:
                    aside = similarity_timings(interactions, config)
    counts, tuning = state["counts"], state.get("tuning", {})
    peak_mb = max(peaks.values())
    lines = [
        f"Machine: {platform.machine()}, 2 cores, Python {platform.python_version()}; "
        f"{args.interactions:,} events, {interactions.n_users:,} users, "
        f"{interactions.n_items:,} items, {interactions.weight.size:,} (user, item) pairs",
        "",
        "| step | seconds | peak resident MB |",
        "| --- | --- | --- |",
        *(f"| {name} | {seconds:.1f} | {peaks[name]:,.0f} |" for name, seconds in timings.items()),
        f"| total | {sum(timings.values()):.1f} | {peak_mb:,.0f} |",
        *(f"| {name} (not in the total) | {seconds:.1f} | |" for name, seconds in aside.items()),
        "",
        f"Each step is the real nightly step in a fresh interpreter, its input and output in a"
        f" directory standing in for S3 (the network is not in these numbers). The weight step"
        f" read {files:,} Parquet files and wrote the interactions and the window's events;"
        f" train wrote the model; export made {counts['rows_written']:,} DynamoDB rows (their"
        f" writing is measured by export_writes.py). Peak memory is each step's own.",
    ]
    if tuning.get("trials"):
        sample = tuning["sample"]
        lines += ["", f"Tuning: on {sample['events']:,} of {sample['window_events']:,} events "
                      f"({sample['users_share']:.0%} of users, RECS_TUNING_MAX_EVENTS), "
                      f"{tuning['trials']} trials in {tuning['seconds']:.0f} s, complete="
                      f"{tuning['complete']}, validation NDCG@20 "
                      f"{tuning['validation']['ndcg']:.4f}; chose {tuning['params']}."]
    text = "\n".join(lines)
    print(text)
    suffix = "-tuned" if args.tune else ""
    (ROOT / f"benchmarks/results/training-{args.interactions}{suffix}.md").write_text(
        text + "\n")


if __name__ == "__main__":
    main()
