"""Single-node batch speed: weight, train, evaluate and export-row generation on synthetic data.

The budget (docs/architecture.md) is the whole batch for 20 M interactions, 1 M users and
200 k items in 60 s and 2 GB on 2 cores. ``--interactions`` sets the scale (default 2 M so
the run takes a minute); popularity is Zipf-like and users have a category taste, as in shops,
and event ids are random 39-character strings, the size of the UUIDs shops send.
Each step is the real nightly step (``weight_step``, ``train_step``, ``evaluate_step``,
``export_step``) in a fresh interpreter, as the state machine's steps are separate
invocations, on an object store backed by a directory in place of S3 (the network is not in
these numbers). Its peak memory
is that process's maximum resident set, the interpreter's imports included, as in a Lambda.
The weight step reads the window's Parquet partitions, written as the lander writes them
(50,000 events a file), and writes their list and (untuned) the interactions; train (tuned,
reading the listed files again) writes the model; evaluate reads the listed files again,
trains the gate's shadow model and scores it; export makes
the DynamoDB rows and counts them
(``export_writes.py`` measures writing them). Without ``--tune`` the train step trains with
the configured parameters; with it, it first tunes in its time box (``RECS_TUNING_SECONDS``),
as nightly.

In the same run, each in a fresh interpreter between the steps, the peers the budget names:
Polars reading the same Parquet files, keeping the first row of each event id and summing
the weighted (user, item) pairs (the weight step: at most 1.5x its time, at a quarter of its
memory), and implicit's ``CosineRecommender`` fit plus ``recommend(N)`` for every user on the
same matrix with 2 threads (the train step: at most half of it). ``--similarity`` also times
the item-item similarity alone against implicit's fit (no slower). implicit and polars are
benchmark-only dependencies (the ``bench`` extra). The machine is shared: what counts is
each ratio to its peer in the same run, and the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
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
from recs.contracts import layout, resources
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


def cpu_seconds() -> float:
    """This process's CPU time, every thread's, user and system, and its reaped children's
    (the export's forked shares)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# A process tree's memory and CPU (the export's forked shares; scale.py's Spark job).

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    children, out, todo = _children_map(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _pss_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB; PSS shares each shared page among its users, so a
    tree's sum counts the forked workers' shared pages once."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        try:
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE // 1024
        except (OSError, IndexError, ValueError):
            return 0, 0
        return rss, rss
    fields = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]
              if line.split()[1].isdigit()}
    return fields.get("Pss", 0), fields.get("Rss", 0)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TreeSampler:
    """Samples the summed PSS and RSS of a process and all its descendants until stopped,
    and the CPU seconds each of them had used when last seen (a JVM that its launcher does
    not reap would escape ``RUSAGE_CHILDREN``)."""

    def __init__(self, pid: int, every_s: float = 0.5) -> None:
        self.pid, self.every_s = pid, every_s
        self.peak_pss_mb = self.peak_rss_mb = 0.0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pss = rss = 0
            for pid in (self.pid, *descendants(self.pid)):
                p, r = _pss_kb(pid)
                pss, rss = pss + p, rss + r
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024)
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024)
            self._stop.wait(self.every_s)


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


def polars_peer(bucket: Path, state: dict[str, Any], config: BatchConfig) -> dict[str, float]:
    """The weight step's peer: Polars reads the same Parquet files, keeps the first row of
    each event id, weights each event by its type and age, and sums the (user, item) pairs
    (on every core; no cap, no trending, no categories: less than the step does)."""
    import polars as pl

    files = [str(bucket / key) for key in DirectoryObjectStore(bucket).list(layout.EVENTS)]
    as_of_ms = int(datetime.fromisoformat(state["as_of"]).replace(tzinfo=UTC).timestamp()
                   * 1000)
    weights = pl.DataFrame({"event_type": list(config.event_weights),
                            "type_weight": list(config.event_weights.values())})
    reset_peak_memory()
    start, cpu = time.perf_counter(), cpu_seconds()
    pairs = (
        pl.scan_parquet(files)
        .select("event_id", "user_id", "item_id", "event_type", "ts")
        .unique(subset="event_id", keep="first", maintain_order=True)
        .with_columns(pl.col("event_type").cast(pl.String))
        .join(weights.lazy(), on="event_type", how="left")
        .with_columns(age_days=(as_of_ms - pl.col("ts").dt.epoch("ms")) / DAY_MS)
        .with_columns(w=pl.col("type_weight") * (2.0 ** (-pl.col("age_days")
                                                           / config.half_life_days)))
        .group_by("user_id", "item_id")
        .agg(pl.col("w").sum())
        .filter(pl.col("w") > 1e-9)
        .collect()
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "peak_mb": peak_memory_mb(),
            "pairs": pairs.height}


def implicit_peer(bucket: Path, state: dict[str, Any], config: BatchConfig,
                  ) -> dict[str, float]:
    """The train step's peer: implicit's item-item cosine fit on the same user x item matrix
    with the same neighbourhood size and 2 threads, then ``recommend(N)`` for every user."""
    from implicit.nearest_neighbours import CosineRecommender

    x = user_item_matrix(Interactions.from_bytes(
        (bucket / state["interactions_key"]).read_bytes())).tocsr()
    reset_peak_memory()
    start, cpu = time.perf_counter(), cpu_seconds()
    model = CosineRecommender(K=config.neighbours, num_threads=2)
    model.fit(x, show_progress=False)
    fitted = time.perf_counter()
    model.recommend(np.arange(x.shape[0]), x, N=config.num_recommendations)
    done = time.perf_counter()
    return {"seconds": done - start, "fit": fitted - start, "recommend": done - fitted,
            "cpu": cpu_seconds() - cpu, "peak_mb": peak_memory_mb()}


PEERS = {"polars": polars_peer, "implicit": implicit_peer}


class CountingRecommendationStore:
    """Takes the export's rows and keeps only their count: writing them is measured apart,
    by ``benchmarks/export_writes.py``."""

    def write(self, rows: Iterable[RecRow]) -> int:
        return sum(1 for _ in rows)

    def get_many(self, keys: Sequence[str], version: str) -> dict[str, list[list[Any]]]:
        return {}

    def delete(self, keys: Iterable[str], version: str) -> int:
        return sum(1 for _ in keys)

    def write_row_keys(self, version: str, keys: Iterable[str]) -> int:
        return sum(1 for _ in keys) and 1

    def read_row_keys(self, version: str) -> Iterator[list[str]]:
        return iter(())


def child_step(name: str, bucket: Path, state_file: Path, params: str) -> None:
    """One nightly step in this fresh interpreter, as the state machine runs each step (its
    own invocation): the real step function on the directory-backed bucket, reading the
    previous step's state from ``state_file`` and writing its own back; prints seconds and
    peak memory (the interpreter's imports included, as in a Lambda)."""
    from recs.batch.steps.evaluate import evaluate_step
    from recs.batch.steps.export import export_step
    from recs.batch.steps.train import config_from_params, train_step
    from recs.batch.steps.weight import weight_step
    from recs.stores.memory import MemoryModelRegistry

    config = config_from_params(json.loads(params))
    objects = DirectoryObjectStore(bucket)
    state = json.loads(state_file.read_text()) if state_file.exists() else {
        "as_of": AS_OF_DAY.isoformat()}
    if name in PEERS:
        print(json.dumps(PEERS[name](bucket, state, config)))
        return
    reset_peak_memory()
    start, cpu = time.perf_counter(), cpu_seconds()
    if name == "weight":
        state = weight_step(state, objects, config)
    elif name == "train":
        state = train_step(state, objects, config)
    elif name == "evaluate":
        state = evaluate_step(state, objects, MemoryModelRegistry(), config)
    else:
        # As deployed: a process per vCPU of the export function, each counting its share.
        config = dataclasses.replace(
            config, export_processes=resources.vcpus(resources.EXPORT.memory_mb))
        with TreeSampler(os.getpid(), every_s=0.2) as tree:
            state = export_step(state, objects, CountingRecommendationStore(),
                                MemoryModelRegistry(), config,
                                writers=CountingRecommendationStore)
        result = {"seconds": time.perf_counter() - start, "cpu": cpu_seconds() - cpu,
                  "peak_mb": max(peak_memory_mb(), tree.peak_pss_mb)}
        state_file.write_text(json.dumps(state))
        print(json.dumps(result))
        return
    result = {"seconds": time.perf_counter() - start, "cpu": cpu_seconds() - cpu,
              "peak_mb": peak_memory_mb()}
    state_file.write_text(json.dumps(state))
    print(json.dumps(result))


def run_isolated(name: str, bucket: Path, state_file: Path,
                 config: BatchConfig) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, str(bucket), str(state_file),
         json.dumps(config.as_dict())],
        check=False, capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"the {name} step failed")
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
    parser.add_argument("--dir", type=Path, default=None,
                        help="work in this directory and keep it (the bucket, the state); "
                             "its events are reused when an earlier run of the same size "
                             "wrote them")
    parser.add_argument("--note", default="",
                        help="what else ran on the machine, for the results file")
    parser.add_argument("--step", nargs=4, metavar=("NAME", "BUCKET", "STATE", "CONFIG"),
                        help=argparse.SUPPRESS)  # the child process of one isolated step
    args = parser.parse_args()
    if args.step:
        child_step(args.step[0], Path(args.step[1]), Path(args.step[2]), args.step[3])
        return
    users = args.users or max(args.interactions // 20, 100)
    items = args.items or max(args.interactions // 100, 2000)
    # The single-node steps whatever the window's size (auto would send 20 M to Spark).
    config = dataclasses.replace(BatchConfig.from_env(), engine="lambda")
    if not args.tune:
        config = dataclasses.replace(config, tuning_seconds=0)
    if args.dir is None:
        with tempfile.TemporaryDirectory() as scratch:
            run(args, Path(scratch), users, items, config)
    else:
        run(args, args.dir, users, items, config)


def run(args: argparse.Namespace, scratch: Path, users: int, items: int,
        config: BatchConfig) -> None:
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}  # each step's own peak resident memory
    aside: dict[str, float] = {}  # measured beside the batch, not part of it
    peers: dict[str, dict[str, float]] = {}
    load_before = os.getloadavg()
    bucket, state_file = scratch / "bucket", scratch / "state.json"
    marker = scratch / "events.json"
    wanted = {"interactions": args.interactions, "users": users, "items": items}
    if marker.exists() and json.loads(marker.read_text()).get("wanted") == wanted:
        files = json.loads(marker.read_text())["files"]
        for key in DirectoryObjectStore(bucket).list(""):
            if not key.startswith(layout.EVENTS):
                (bucket / key).unlink()
    else:
        shutil.rmtree(bucket, ignore_errors=True)
        files = write_partitions(synthetic_events(args.interactions, users, items),
                                 DirectoryObjectStore(bucket))
        marker.write_text(json.dumps({"wanted": wanted, "files": files}))
    state_file.unlink(missing_ok=True)
    gc.collect()
    state: dict[str, Any] = {}
    cpus: dict[str, float] = {}  # each step's CPU seconds, all its threads
    for name in ("weight", "polars", "train", "implicit", "evaluate", "export"):
        if name in PEERS:
            if name == "implicit" and "interactions_key" not in state:
                continue
            try:
                peers[name] = run_isolated(name, bucket, state_file, config)
            except SystemExit as exc:
                print(f"peer {name} not measured: {exc}")
            continue
        label = f"train (tuning in a {config.tuning_seconds:.0f} s box)" if (
            name == "train" and args.tune) else name
        result = run_isolated(name, bucket, state_file, config)
        timings[label], peaks[label] = result["seconds"], result["peak_mb"]
        cpus[label] = result["cpu"]
        state = json.loads(state_file.read_text())
        if name == "weight" and "interactions_key" in state:
            interactions = Interactions.from_bytes(
                (bucket / state["interactions_key"]).read_bytes())
            if args.similarity:
                aside = similarity_timings(interactions, config)
            del interactions
    load_after = os.getloadavg()
    counts, tuning = state["counts"], state.get("tuning", {})
    peak_mb = max(peaks.values())
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}; {args.interactions:,} "
        f"events, {counts['users']:,} users, {counts['items']:,} items, "
        f"{counts['interactions']:,} (user, item) pairs; load average {load_before[0]:.1f} "
        f"before the run, {load_after[0]:.1f} after (other work on the machine)",
        "",
        "| step | seconds | CPU seconds | cores used | peak resident MB |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {name} | {seconds:.1f} | {cpus[name]:.1f} | {cpus[name] / seconds:.2f} | "
          f"{peaks[name]:,.0f} |" for name, seconds in timings.items()),
        f"| total | {sum(timings.values()):.1f} | {sum(cpus.values()):.1f} | | "
        f"{peak_mb:,.0f} |",
        *(f"| {name} (not in the total) | {seconds:.1f} | | | |"
          for name, seconds in aside.items()),
        *peer_lines(timings, peaks, peers, aside, config),
        "",
        f"Each step is the real nightly step in a fresh interpreter, its input and output in a"
        f" directory standing in for S3 (the network is not in these numbers). The weight step"
        f" read {files:,} Parquet files; train wrote the model; export made"
        f" {counts['rows_written']:,} DynamoDB rows (their writing is measured by"
        f" export_writes.py). Peak memory is each step's own. Each peer ran in its own fresh"
        f" interpreter in the same run, between the steps.",
    ]
    if args.note:
        lines += ["", f"Beside the run: {args.note}"]
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


def peer_lines(timings: dict[str, float], peaks: dict[str, float],
               peers: dict[str, dict[str, float]], aside: dict[str, float],
               config: BatchConfig) -> list[str]:
    """The peers' rows and the budget's ratios: each step against its peer, same run."""
    lines = []
    train = next((name for name in timings if name.startswith("train")), "")
    if "polars" in peers:
        polars = peers["polars"]
        lines += [
            f"| peer: Polars group-by with event-id dedup (not in the total) | "
            f"{polars['seconds']:.1f} | {polars['cpu']:.1f} | "
            f"{polars['cpu'] / polars['seconds']:.2f} | {polars['peak_mb']:,.0f} |",
            f"| weight / Polars (budget: at most 1.5x the time, 0.25x the memory) | "
            f"{timings['weight'] / polars['seconds']:.2f}x | | | "
            f"{peaks['weight'] / polars['peak_mb']:.2f}x |"]
    if "implicit" in peers:
        peer = peers["implicit"]
        lines += [
            f"| peer: implicit cosine fit + recommend(N={config.num_recommendations}) for "
            f"every user (not in the total) | {peer['seconds']:.1f} (fit {peer['fit']:.1f}, "
            f"recommend {peer['recommend']:.1f}) | {peer['cpu']:.1f} | "
            f"{peer['cpu'] / peer['seconds']:.2f} | {peer['peak_mb']:,.0f} |",
            f"| train / implicit (budget: at most 0.5x) | "
            f"{timings[train] / peer['seconds']:.2f}x | | | |"]
    ours = aside.get(f"similarity alone: ours, {config.discovery}")
    theirs = aside.get("similarity alone: implicit cosine")
    if ours and theirs:
        lines.append(f"| similarity: ours ({config.discovery}) / implicit cosine (budget: at "
                     f"most 1x) | {ours / theirs:.2f}x | | | |")
    return lines


if __name__ == "__main__":
    main()
