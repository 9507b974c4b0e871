"""The whole nightly batch at growing windows, on both engines: seconds and peak memory per
step, and how each grows with the window's events.

    python benchmarks/scale.py --events 2000000 --engine local|spark
    python benchmarks/scale.py --report          # the summary table from what was measured

The events are ``benchmarks/training.py``'s synthetic shop (Zipf-like popularity, category
tastes, 39-character event ids; users = events / 20, items = events / 100) written as the
lander writes them, on a directory standing in for S3. Tuning is off (``RECS_TUNING_SECONDS
=0``) on both engines: the nightly tuning is a fixed time box on a fixed-size sample
(``RECS_TUNING_MAX_EVENTS``), so it adds a constant, not a growth, and ``benchmarks/cost.py``
adds it as such.

``local`` runs the Lambda path's steps, each the real step function in a fresh interpreter
as the state machine runs them: weight, train and export through ``training.py``'s runner
(peak memory = the process's own maximum resident set) and evaluate through this file's.
``spark`` runs the weight step with ``RECS_ENGINE=spark`` (it sizes the window and writes the
catalog), then ``python -m recs_spark.job`` in Spark's local mode on this machine's cores,
then the train step reading the job's manifest and evaluate; the job's peak memory is the
largest sum of proportional set sizes (PSS) of its whole process tree (the JVM and its Python
workers), sampled every 0.5 s, and its CPU seconds those its processes had used when last
sampled (or what the kernel counted for the children it reaped, if more).

Every run merges its numbers into ``results/scale.json`` (engine -> events -> steps) and
writes ``results/scale-<engine>-<events>.md``, with the machine, the date and what else was
running; ``--report`` writes ``results/scale.md``: the table, and for each step the growth
exponent ``b`` of seconds and memory between consecutive sizes (``y ~ events^b``:
``b = log(y2 / y1) / log(e2 / e1)``), which ``benchmarks/cost.py`` uses to carry the
measurements to windows too large to run here.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import training  # noqa: E402  (benchmarks/training.py: the generator and the step runner)

RESULTS = HERE / "results"
DATA = RESULTS / "scale.json"
PAGE = os.sysconf("SC_PAGE_SIZE")
LOCAL_STEPS = ("weight", "train", "evaluate", "export")


# --- what the machine is doing --------------------------------------------------------------

def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        total_kb = 0
    return (f"{os.cpu_count()} cores ({model}), {total_kb / 1024 ** 2:.0f} GB RAM, "
            f"{platform.system()} {platform.machine()}, Python {platform.python_version()}")


def others_running() -> str:
    """The load average and the busiest processes that are not this run's: the machine is
    shared, and these numbers move with what else it does."""
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    mine = {os.getpid(), *training.descendants(os.getpid())}
    busy = subprocess.run(["ps", "-eo", "pid,pcpu,rss,args", "--sort=-pcpu", "--no-headers"],
                          capture_output=True, text=True, check=False).stdout.splitlines()
    top = []
    for line in busy:
        pid, cpu, rss, comm = line.split(None, 3)
        if int(pid) not in mine and float(cpu) >= 5.0:
            top.append(f"`{comm[:70]}` {float(cpu):.0f} % CPU, {int(rss) / 1024 ** 2:.1f} GB")
    return f"load average {load}; " + ("; ".join(top[:6]) or "no other process above 5 % CPU")


# --- a process tree's memory: training.TreeSampler -------------------------------------

def run_tree(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``argv`` to the end; its wall seconds, CPU seconds (the whole tree's, as far as it
    reaped its children) and peak PSS/RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    with training.TreeSampler(process.pid) as sampler:
        _, err = process.communicate()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise RuntimeError(f"{argv[:4]} failed ({process.returncode}):\n{err[-4000:]}")
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(reaped, sum(sampler.cpu.values()))
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": sampler.peak_pss_mb,
            "peak_rss_mb": sampler.peak_rss_mb}


# --- the steps ------------------------------------------------------------------------------

class CountingStore:
    """The recommendation store's port, keeping counts only: rows and row-key chunks written
    (their DynamoDB cost is ``benchmarks/cost.py``'s, their writing time
    ``export_writes.py``'s)."""

    def __init__(self) -> None:
        self.rows = self.key_chunks = 0

    def write(self, rows: Iterable[Any]) -> int:
        count = sum(1 for _ in rows)
        self.rows += count
        return count

    def get_many(self, keys: Sequence[str], version: str) -> dict[str, list[Any]]:
        return {}

    def delete(self, keys: Iterable[str], version: str) -> int:
        return sum(1 for _ in keys)

    def write_row_keys(self, version: str, keys: Iterable[str]) -> int:
        from recs.stores.ports import row_key_chunks

        self.key_chunks = sum(1 for _ in row_key_chunks(keys))
        return self.key_chunks

    def read_row_keys(self, version: str) -> Iterator[list[str]]:
        return iter(())


def step_child(name: str, bucket: Path, state_file: Path, params: str) -> None:
    """The evaluate or export step in this fresh interpreter, as ``training.child_step`` runs
    the others (first night: no live model to score, no version to retire)."""
    from recs.batch.steps.evaluate import evaluate_step
    from recs.batch.steps.export import export_step
    from recs.batch.steps.train import config_from_params
    from recs.stores.memory import MemoryModelRegistry

    config = config_from_params(json.loads(params))
    objects = training.DirectoryObjectStore(bucket)
    state = json.loads(state_file.read_text())
    store = CountingStore()
    training.reset_peak_memory()
    start = time.perf_counter()
    if name == "evaluate":
        state = evaluate_step(state, objects, MemoryModelRegistry(), config)
    else:
        state = export_step(state, objects, store, MemoryModelRegistry(), config)
    result = {"seconds": time.perf_counter() - start, "peak_mb": training.peak_memory_mb()}
    if name == "export":
        result["key_chunks"] = store.key_chunks
    state_file.write_text(json.dumps(state))
    print(json.dumps(result))


def run_step(name: str, bucket: Path, state_file: Path, config: Any,
             env: dict[str, str]) -> dict[str, float]:
    own = name in ("evaluate", "export")
    if not own and not env:
        return training.run_isolated(name, bucket, state_file, config)
    script = __file__ if own else training.__file__
    out = subprocess.run(
        [sys.executable, script, "--step", name, str(bucket), str(state_file),
         json.dumps(config.as_dict())],
        check=True, capture_output=True, text=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def item_bytes(item: dict[str, Any]) -> int:
    """A DynamoDB item's size as DynamoDB bills it: attribute names plus values (strings in
    UTF-8; numbers about one byte per two digits plus one)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            size += len(value["S"].encode())
        else:
            size += len(value["N"]) // 2 + 1
    return size


def row_write_units(bucket: Path, state: dict[str, Any], sample: int = 20_000) -> dict[str, float]:
    """Mean write units per exported row (1 KB each, rounded up per item), over an even sample
    of the version's rows as the export makes them: what ``benchmarks/cost.py`` multiplies
    the rows by. The synthetic shop has no catalog, so the rows carry no titles."""
    from recs.batch.model import Model
    from recs.batch.steps.export import export_rows
    from recs.stores.aws import _row_item

    model = Model.from_bytes((bucket / state["model_key"]).read_bytes())
    key = state.get("catalog_key")
    catalog = json.loads((bucket / key).read_bytes()) if key else {}
    stride = max(state["counts"]["rows_written"] // sample, 1)
    sizes = [item_bytes(_row_item(row)) for index, row in
             enumerate(export_rows(model, state["version"], 0, catalog)) if index % stride == 0]
    units = [math.ceil(size / 1024) for size in sizes]
    return {"rows": len(sizes), "mean_item_bytes": sum(sizes) / len(sizes),
            "write_units_per_row": sum(units) / len(units)}


CHUNK = 20_000_000  # events generated at once: 100 M at once would need about 18 GB


class _ChunkStore(training.DirectoryObjectStore):
    """Names each chunk's files apart (``part-c<chunk>-...``), as separate lander batches."""

    def __init__(self, root: Path, chunk: int) -> None:
        super().__init__(root)
        self.chunk = chunk

    def put(self, key: str, body: bytes) -> None:
        super().put(key.replace("/part-", f"/part-c{self.chunk}-"), body)


def write_events(events: int, users: int, items: int, bucket: Path) -> int:
    """``training.py``'s synthetic shop as the lander leaves it; past ``CHUNK`` events it is
    generated a chunk at a time (seeds 5, 6, ...) over the same users and items, so a
    user's category taste is drawn afresh in each chunk."""
    if events <= CHUNK:
        files = training.write_partitions(training.synthetic_events(events, users, items),
                                          training.DirectoryObjectStore(bucket))
        gc.collect()
        return files
    files = 0
    for chunk, first in enumerate(range(0, events, CHUNK)):
        table = training.synthetic_events(min(CHUNK, events - first), users, items, 5 + chunk)
        files += training.write_partitions(table, _ChunkStore(bucket, chunk))
        del table
        gc.collect()
    return files


def local_run(events: int, bucket: Path, state_file: Path, config: Any) -> dict[str, Any]:
    steps: dict[str, dict[str, float]] = {}
    config = dataclasses.replace(config, engine="lambda")  # auto sends 20 M to Spark
    for name in LOCAL_STEPS:
        steps[name] = run_step(name, bucket, state_file, config, {})
        print(f"  {name}: {steps[name]['seconds']:.1f} s, {steps[name]['peak_mb']:,.0f} MB",
              flush=True)
    return {"steps": steps}


def spark_run(events: int, bucket: Path, state_file: Path, config: Any) -> dict[str, Any]:
    env = {"RECS_ENGINE": "spark", "RECS_TUNING_SECONDS": "0"}
    config = dataclasses.replace(config, engine="spark")  # the steps' children read it
    steps: dict[str, dict[str, float]] = {}
    steps["weight"] = run_step("weight", bucket, state_file, config, env)
    state = json.loads(state_file.read_text())
    if state.get("engine") != "spark":
        raise RuntimeError(f"the weight step chose {state.get('engine')!r}, not spark")
    job = run_tree([sys.executable, "-m", "recs_spark.job", "--store", f"file://{bucket}",
                    "--state", json.dumps(state)],
                   {**os.environ, **env, "PYTHONPATH": str(HERE.parent)})
    steps["spark job"] = job
    print(f"  spark job: {job['seconds']:.1f} s, {job['cpu_seconds']:.0f} CPU s, "
          f"{job['peak_mb']:,.0f} MB PSS", flush=True)
    for name in ("train", "evaluate"):
        steps[name] = run_step(name, bucket, state_file, config, env)
    state = json.loads(state_file.read_text())
    rows = [p for p in (bucket / state["rows_prefix"]).rglob("*.parquet")] if state.get(
        "rows_prefix") else []
    return {"steps": steps, "row_files": len(rows),
            "row_file_bytes": sum(p.stat().st_size for p in rows),
            "manifest_counts": state.get("counts", {})}


def measure(events: int, engine: str) -> dict[str, Any]:
    from recs.batch.config import BatchConfig

    config = BatchConfig.from_env({**os.environ, "RECS_TUNING_SECONDS": "0"})
    users, items = max(events // 20, 100), max(events // 100, 2000)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    before = others_running()
    with tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as scratch:
        bucket, state_file = Path(scratch) / "bucket", Path(scratch) / "state.json"
        start = time.perf_counter()
        # In a child: the generator's arrays are not held by this process through the run.
        out = subprocess.run([sys.executable, __file__, "--generate", str(events), str(users),
                              str(items), str(bucket)], check=True, capture_output=True,
                             text=True)
        files = int(out.stdout.strip().splitlines()[-1])
        generated = time.perf_counter() - start
        event_bytes = sum(p.stat().st_size for p in (bucket / "events").rglob("*") if p.is_file())
        print(f"{engine} {events:,}: {files} files, {event_bytes / 1e6:,.0f} MB of events "
              f"in {generated:.0f} s", flush=True)
        run = (local_run if engine == "local" else spark_run)(events, bucket, state_file, config)
        state = json.loads(state_file.read_text())
        if engine == "local":
            run["rows_written"] = state["counts"]["rows_written"]
            if events <= 5_000_000:
                run["row_write_units"] = row_write_units(bucket, state)
        artefacts = {prefix: sum(p.stat().st_size for p in (bucket / prefix).rglob("*")
                                 if p.is_file())
                     for prefix in ("models", "interactions", "catalog")
                     if (bucket / prefix).exists()}
    return {**run, "events": events, "users": users, "items": items, "event_files": files,
            "cores": os.cpu_count(),
            "settings": {k: v for k, v in os.environ.items() if k.startswith("RECS_")},
            "event_bytes": event_bytes, "artefact_bytes": artefacts, "date": date,
            "machine": machine(), "others_before": before, "others_after": others_running(),
            "counts": state.get("counts", {})}


# --- the record -----------------------------------------------------------------------------

def load() -> dict[str, Any]:
    return json.loads(DATA.read_text()) if DATA.exists() else {}


def save(engine: str, result: dict[str, Any]) -> None:
    data = load()
    data.setdefault(engine, {})[str(result["events"])] = result
    DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def growth(e1: float, y1: float, e2: float, y2: float) -> float:
    """The exponent b of y ~ e^b through two measurements."""
    return math.log(y2 / y1) / math.log(e2 / e1)


def run_page(engine: str, result: dict[str, Any]) -> str:
    steps = result["steps"]
    lines = [
        f"# Scale, {engine} engine, {result['events']:,} events",
        "",
        f"Measured {result['date']} on {result['machine']}, by `benchmarks/scale.py --events "
        f"{result['events']} --engine {engine}`. {result['users']:,} users, "
        f"{result['items']:,} items, {result['event_files']:,} event files "
        f"({result['event_bytes'] / 1e6:,.0f} MB of Parquet)"
        + (f", generated {CHUNK / 1e6:g} M at a time (each chunk draws users' tastes afresh)"
           if result["events"] > CHUNK else "")
        + ". Tuning off (a constant time box nightly, added by benchmarks/cost.py).",
        "",
        f"Also running: before, {result['others_before']}; after, {result['others_after']}.",
        "",
        f"Settings from the environment: {result.get('settings') or 'none'}.",
        "",
        "| step | seconds | peak MB | CPU seconds |",
        "| --- | --- | --- | --- |",
        *(f"| {name} | {s['seconds']:.1f} | {s['peak_mb']:,.0f} | "
          f"{s['cpu_seconds']:.0f} |" if "cpu_seconds" in s else
          f"| {name} | {s['seconds']:.1f} | {s['peak_mb']:,.0f} | |"
          for name, s in steps.items()),
        f"| total | {sum(s['seconds'] for s in steps.values()):.1f} | "
        f"{max(s['peak_mb'] for s in steps.values()):,.0f} | |",
        "",
    ]
    if engine == "local":
        lines.append(f"Peak MB is each step's own maximum resident set (a fresh interpreter, "
                     f"imports included). Export made {result['rows_written']:,} rows.")
        units = result.get("row_write_units")
        if units:
            lines.append(f"DynamoDB size of the rows (an even sample of {units['rows']:,}): "
                         f"{units['mean_item_bytes']:,.0f} bytes on average, "
                         f"{units['write_units_per_row']:.2f} write units per row.")
    else:
        lines.append(f"The spark job's peak MB is the largest sampled sum of PSS over its "
                     f"process tree (JVM and Python workers; summed RSS peaked at "
                     f"{steps['spark job']['peak_rss_mb']:,.0f} MB); the other steps' is their "
                     f"own maximum resident set. The job wrote {result['row_files']} row files "
                     f"({result['row_file_bytes'] / 1e6:,.1f} MB); counts "
                     f"{result['manifest_counts']}.")
    return "\n".join(lines) + "\n"


def report() -> str:
    data = load()
    lines = ["# Scale: the nightly batch at growing windows, both engines", "",
             "Written by `python benchmarks/scale.py --report` from `scale.json`; each "
             "measurement's machine, date and concurrent load are in its "
             "`scale-<engine>-<events>.md`. Growth b: seconds (or MB) ~ events^b between the "
             "two sizes.", ""]
    for engine in ("local", "spark"):
        runs = sorted(data.get(engine, {}).values(), key=lambda r: r["events"])
        if not runs:
            lines += [f"## {engine}", "", "Not measured yet.", ""]
            continue
        order = ("weight", "spark job", "train", "evaluate", "export")
        names = sorted(runs[-1]["steps"], key=lambda n: order.index(n) if n in order else 9)
        sizes = [r["events"] for r in runs]
        lines += [f"## {engine}", "",
                  "| step | " + " | ".join(f"{e / 1e6:g} M: s / MB" for e in sizes)
                  + "".join(f" | b {a / 1e6:g}→{b / 1e6:g} M: time / memory"
                            for a, b in itertools.pairwise(sizes)) + " |",
                  "| --- " * (1 + len(sizes) + max(len(sizes) - 1, 0)) + "|"]
        for name in [*names, "total"]:
            cells, points = [], []
            for r in runs:
                steps = r["steps"]
                if name == "total":
                    s = {"seconds": sum(x["seconds"] for x in steps.values()),
                         "peak_mb": max(x["peak_mb"] for x in steps.values())}
                else:
                    s = steps.get(name)
                points.append(s)
                cells.append(f"{s['seconds']:.1f} / {s['peak_mb']:,.0f}" if s else "")
            for (a, b), (pa, pb) in zip(itertools.pairwise(runs), itertools.pairwise(points),
                                        strict=True):
                if pa and pb:
                    cells.append(
                        f"{growth(a['events'], pa['seconds'], b['events'], pb['seconds']):.2f}"
                        f" / {growth(a['events'], pa['peak_mb'], b['events'], pb['peak_mb']):.2f}")
                else:
                    cells.append("")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--engine", choices=("local", "spark"), default="local")
    parser.add_argument("--report", action="store_true", help="write results/scale.md only")
    parser.add_argument("--step", nargs=4, help=argparse.SUPPRESS)  # one step's child
    parser.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)  # the events' child
    args = parser.parse_args()
    if args.generate:
        events, users, items, bucket = args.generate
        print(write_events(int(events), int(users), int(items), Path(bucket)))
        return
    if args.step:
        step_child(args.step[0], Path(args.step[1]), Path(args.step[2]), args.step[3])
        return
    if not args.report:
        result = measure(args.events, args.engine)
        save(args.engine, result)
        page = run_page(args.engine, result)
        (RESULTS / f"scale-{args.engine}-{args.events}.md").write_text(page)
        print(page)
    text = report()
    (RESULTS / "scale.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
