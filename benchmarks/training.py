"""Single-node batch speed: weight, train and export-row generation on synthetic data.

The budget (DESIGN.md section 7) is the whole batch for 20 M interactions, 1 M users and
200 k items in 60 s and 2 GB on 2 cores. ``--interactions`` sets the scale (default 2 M so
the run takes a minute); popularity is Zipf-like and users have a category taste, as in shops.
Peak memory is each step's own maximum resident set size. The weight step runs here, after
the synthetic events exist (their generation's scratch arrays are not the batch's; the events
table is counted, as the step holds it). Train and export each run in a fresh interpreter, as
the nightly state machine's steps are separate invocations: they read their input from a
file, and their peak counts that and the interpreter's imports, as a Lambda's would.
``--tune`` adds the nightly train step's tuning (``recs.evaluation.tuning.tune`` with the
configured time box) before training, as the train step runs it, and reports how many grid
trials fitted in the box.
``--similarity`` also times the item-item similarity alone against implicit's
``CosineRecommender.fit`` on the same matrix with the same neighbourhood size and 2 threads
(the DESIGN budget: no slower than implicit; implicit is a benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

from recs.algorithms import create
from recs.batch.interactions import Interactions
from recs.batch.steps.export import export_rows
from recs.batch.training import algorithm_params, train, user_item_matrix
from recs.batch.weighting import DAY_MS, weight_events
from recs.config import BatchConfig

ROOT = Path(__file__).resolve().parents[1]
AS_OF = 1_795_000_000_000
T = TypeVar("T")


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
        "event_id": pa.array(np.arange(n).astype(str)),
        "user_id": pa.array(user.astype(str)),
        "session_id": pa.nulls(n, pa.string()),
        "item_id": pa.array(item.astype(str)),
        "event_type": pa.array(kind).dictionary_encode(),
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "category": pa.array(np.char.add("c", category.astype(str))),
    })


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


def child_step(name: str, source: Path, target: Path, params: str) -> None:
    """One step in this fresh interpreter, as the nightly state machine runs each step (its
    own invocation): read the input, run, write the output; print seconds and peak memory
    (reading the input included, the interpreter's own imports too, as in a Lambda)."""
    from recs.batch.model import Model
    from recs.batch.steps.train import config_from_params

    config = config_from_params(json.loads(params))
    reset_peak_memory()
    if name == "train":
        interactions = Interactions.from_bytes(source.read_bytes())
        start = time.perf_counter()
        model = train(interactions, config)
        seconds = time.perf_counter() - start
        peak = peak_memory_mb()
        target.write_bytes(model.to_bytes())
        result: dict[str, float] = {"seconds": seconds, "peak_mb": peak}
    else:
        model = Model.from_bytes(source.read_bytes())
        start = time.perf_counter()
        rows = sum(1 for _ in export_rows(model, "v", 0))
        result = {"seconds": time.perf_counter() - start, "peak_mb": peak_memory_mb(),
                  "rows": rows}
    print(json.dumps(result))


def run_isolated(name: str, source: Path, target: Path, config: BatchConfig) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, str(source), str(target),
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
                        help="tune first, as the nightly train step does (RECS_TUNING_SECONDS)")
    parser.add_argument("--step", nargs=4, metavar=("NAME", "IN", "OUT", "CONFIG"),
                        help=argparse.SUPPRESS)  # the child process of one isolated step
    args = parser.parse_args()
    if args.step:
        child_step(args.step[0], Path(args.step[1]), Path(args.step[2]), args.step[3])
        return
    users = args.users or max(args.interactions // 20, 100)
    items = args.items or max(args.interactions // 100, 2000)
    table = synthetic_events(args.interactions, users, items)
    gc.collect()
    reset_peak = reset_peak_memory()
    config = BatchConfig.from_env()

    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}  # each step's own peak resident memory
    aside: dict[str, float] = {}  # measured beside the batch, not part of it
    tuned = ""

    def step(name: str, run: Callable[[], T]) -> T:
        if reset_peak:
            reset_peak_memory()
        start = time.perf_counter()
        out = run()
        timings[name] = time.perf_counter() - start
        peaks[name] = peak_memory_mb()
        return out

    if args.tune:
        from recs.evaluation.tuning import tune

        result = step(f"tune (box {config.tuning_seconds:.0f} s)",
                      partial(tune, table, config, AS_OF))
        config = result.config
        record = result.record()
        sample = record["sample"]
        tuned = (f"Tuning: on {sample['events']:,} of {sample['window_events']:,} events "
                 f"({sample['users_share']:.0%} of users, RECS_TUNING_MAX_EVENTS), "
                 f"{record['trials']} trials, complete={record['complete']}, "
                 f"validation NDCG@20 {record['validation']['ndcg']:.4f}; chose "
                 f"{record['params']}.")
    interactions = step("weight", partial(weight_events, table, config, AS_OF))
    del table
    gc.collect()
    if args.similarity:
        aside = similarity_timings(interactions, config)
    # Train and export each run in a fresh interpreter, as the nightly state machine's
    # separate invocations do: their peaks are then their own, not this process's history.
    with tempfile.TemporaryDirectory() as scratch:
        paths = [Path(scratch) / name for name in ("interactions", "model", "unused")]
        paths[0].write_bytes(interactions.to_bytes())
        for name, label, source, target in (("train", "train", paths[0], paths[1]),
                                            ("export", "export rows", paths[1], paths[2])):
            result = run_isolated(name, source, target, config)
            timings[label], peaks[label] = result["seconds"], result["peak_mb"]
            rows = int(result.get("rows", 0))
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
        f"{rows:,} DynamoDB rows generated; peak resident memory {peak_mb:,.0f} MB"
        + (" (each step's own: the weight step holds the events table; train and export"
           " run in fresh interpreters, as the nightly steps are separate invocations, and"
           " count reading their input)." if reset_peak
           else " (including the synthetic data's generation)."),
        *([] if not tuned else ["", tuned]),
    ]
    text = "\n".join(lines)
    print(text)
    suffix = "-tuned" if args.tune else ""
    (ROOT / f"benchmarks/results/training-{args.interactions}{suffix}.md").write_text(
        text + "\n")


if __name__ == "__main__":
    main()
