"""Serving speed: the API function's import time and its per-request compute.

Import time: a fresh interpreter imports ``functions/api.py`` (Powertools, boto3 and its
DynamoDB client, the recs package) — the part of a Lambda cold start that is ours. Per-request
compute: the real handler (routing, validation, tiers, filters, JSON) with the stores faked
in memory, so DynamoDB time is excluded, as the budget says. Brown-out: the real handler on
the real DynamoDB reader, its table throttling every call or never answering (a socket that
accepts and stays silent), wall time per request against the 300 ms read budget. Prints
Markdown tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENV = {
    "RECS_RECOMMENDATIONS_TABLE": "recs", "RECS_REGISTRY_TABLE": "registry",
    "RECS_REALTIME_TABLE": "realtime", "RECS_EXPERIMENTS_TABLE": "experiments",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
BREAKDOWN_SCRIPT = """
import time
t0 = time.perf_counter()
import boto3
t1 = time.perf_counter()
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
t2 = time.perf_counter()
import recs.api.errors, recs.api.params, recs.api.routing, recs.serving.service, recs.stores.wiring
t3 = time.perf_counter()
recs.stores.wiring.dynamodb_client()
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""
IMPORT_SCRIPT = """
import importlib.util, sys, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("api", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - start
science = sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "scipy", "pyarrow"})
print(elapsed, ",".join(science))
"""


def import_times(runs: int = 9) -> tuple[float, list[float], str]:
    times, science = [], ""
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, str(ROOT / "functions/api.py")],
                             capture_output=True, text=True, env={**os.environ, **ENV},
                             check=True).stdout.split()
        times.append(float(out[0]))
        science = out[1] if len(out) > 1 else ""
    return statistics.median(times), times, science


def breakdown(runs: int = 9) -> list[float]:
    """Median seconds importing boto3, Powertools and recs, then creating the DynamoDB client."""
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", BREAKDOWN_SCRIPT], capture_output=True,
                             text=True, env={**os.environ, **ENV}, check=True).stdout.split()
        samples.append([float(x) for x in out])
    return [statistics.median(column) for column in zip(*samples, strict=True)]


def in_memory_api() -> Any:
    """The real API module with its service rebuilt on in-memory stores full of lists."""
    os.environ.update(ENV)
    import importlib.util

    from recs.serving.service import RecommendationService
    from recs.serving.settings import ServingConfig
    from recs.stores.memory import (
        MemoryModelRegistry,
        MemoryRealtimeStore,
        MemoryRecommendationStore,
        MemoryServingReader,
    )
    from recs.stores.ports import ModelVersion, RecRow

    spec = importlib.util.spec_from_file_location("api_bench", ROOT / "functions/api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    version = "20261123-bench"
    categories = [f"dept{d}/cat{c}" for d in range(10) for c in range(10)]

    def entries(seed: int, n: int, event: str) -> list[list[Any]]:
        return [[f"item{(seed * 7919 + k * 104729) % 200_000}", round(1 / (k + 1), 4),
                 f"item{seed}", event, categories[(seed + k) % 100], f"Item {k}", f"Item {seed}"]
                for k in range(n)]

    rows = [RecRow(f"U#user{u}", version, entries(u, 50, "purchase")) for u in range(1000)]
    rows += [RecRow(f"I#item{i}", version, entries(i, 50, "similar")) for i in range(1000)]
    rows += [RecRow("POP#global", version, entries(1, 100, "trending"))]
    rows += [RecRow(f"POP#C#{c}", version, entries(2, 100, "trending")) for c in categories]
    store = MemoryRecommendationStore()
    store.write(rows)
    realtime = MemoryRealtimeStore()
    now = int(time.time() * 1000)
    for u in range(1000):
        realtime.record(f"S#session{u}", [(f"item{(u + k) % 1000}", "view", now - k)
                                          for k in range(10)], [f"item{u}"] * 2, now)
    realtime.update_catalog({f"item{k}" for k in range(0, 200_000, 97)}, set(),
                            [[f"new{k}", now - k, categories[k], f"New {k}"] for k in range(50)])
    registry = MemoryModelRegistry()
    registry.put_version(ModelVersion(version, "exported", "now"))
    registry.promote(version, None, "now")
    module.service = RecommendationService(MemoryServingReader(store, realtime), registry,
                                           ServingConfig())
    return module


def request_times(module: Any, path: str, query: dict[str, str], n: int) -> list[float]:
    from recs_local.cloud import LambdaContext
    from recs_local.server import proxy_event

    context = LambdaContext("api")
    times = []
    for i in range(n):
        q = {k: v.format(i=i % 1000) for k, v in query.items()}
        raw = path.format(i=i % 1000) + "?" + "&".join(f"{k}={v}" for k, v in q.items())
        event = proxy_event("GET", raw, {}, b"")
        start = time.perf_counter()
        response = module.handler(event, context)
        times.append(time.perf_counter() - start)
        assert response["statusCode"] == 200, response
    return times


def brownout_times(module: Any, n: int = 20) -> list[tuple[str, list[float], set[int]]]:
    """Wall time of GET /recommendations (a shopper with recent events) while DynamoDB
    throttles every call, then while it never answers; the statuses seen."""
    import boto3
    from botocore.exceptions import ClientError

    from recs.serving.service import RecommendationService
    from recs.serving.settings import ServingConfig
    from recs.stores.aws import DynamoServingReader, read_path_config
    from recs.stores.memory import MemoryModelRegistry
    from recs.stores.ports import ModelVersion
    from recs_local.cloud import LambdaContext
    from recs_local.server import proxy_event

    class Throttling:
        def batch_get_item(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "BatchGetItem")

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # connections complete in the backlog and are never answered
    stalled = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                           config=read_path_config())
    registry = MemoryModelRegistry()
    registry.put_version(ModelVersion("v", "exported", "now"))
    registry.promote("v", None, "now")
    results = []
    for name, client in (("throttling every call", Throttling()),
                         ("never answering", stalled)):
        module.service = RecommendationService(
            DynamoServingReader("recs", "realtime", client), registry, ServingConfig())
        times, statuses = [], set()
        for i in range(n):
            event = proxy_event("GET", f"/recommendations?session_id=session{i}", {}, b"")
            start = time.perf_counter()
            statuses.add(module.handler(event, LambdaContext("api"))["statusCode"])
            times.append(time.perf_counter() - start)
        results.append((name, times, statuses))
    silent.close()
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


ROUTES = [
    ("GET /recommendations (known user)", "/recommendations", {"user_id": "user{i}"}),
    ("GET /recommendations (session, 10 recent views)", "/recommendations",
     {"session_id": "session{i}", "num_items": "10"}),
    ("GET /recommendations (new user, category)", "/recommendations",
     {"user_id": "stranger{i}", "category": "dept3"}),
    ("GET /items/{id}/similar", "/items/item{i}/similar", {}),
    ("GET /recommendations/trending", "/recommendations/trending", {"category": "dept1/cat2"}),
    ("GET /models/status", "/models/status", {}),
]


def main() -> None:
    median, runs, science = import_times()
    boto, powertools, ours, client = breakdown()
    module = in_memory_api()
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        f"API function import (fresh interpreter, median of {len(runs)}): "
        f"**{median * 1000:.0f} ms** (min {min(runs) * 1000:.0f}, max {max(runs) * 1000:.0f});"
        f" numpy/scipy/pyarrow loaded: {science or 'none'}",
        "",
        f"Of which, importing: boto3 {boto * 1000:.0f} ms, Powertools {powertools * 1000:.0f} ms,"
        f" the recs package {ours * 1000:.0f} ms (imports alone: "
        f"{(boto + powertools + ours) * 1000:.0f} ms); creating the one DynamoDB client "
        f"{client * 1000:.0f} ms; the rest is the service and the routes.",
        "",
        "| route (real handler, stores in memory) | p50 ms | p99 ms |",
        "| --- | --- | --- |",
    ]
    for name, path, query in ROUTES:
        # The handler prints its metric lines (EMF) as in Lambda; timed, but not shown here.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            request_times(module, path, query, 200)  # warm up
            times = request_times(module, path, query, 3000)
        lines.append(f"| {name} | {percentile(times, 50) * 1000:.2f} | "
                     f"{percentile(times, 99) * 1000:.2f} |")
    lines += ["", "| DynamoDB brown-out (real handler and reader, 300 ms budget) | statuses | "
              "p50 ms | max ms |", "| --- | --- | --- | --- |"]
    for name, times, statuses in brownout_times(module):
        lines.append(f"| {name} | {', '.join(map(str, sorted(statuses)))} | "
                     f"{percentile(times, 50) * 1000:.0f} | {max(times) * 1000:.0f} |")
    text = "\n".join(lines)
    print(text)
    (ROOT / "benchmarks/results/serving.md").write_text(text + "\n")
    json.dumps({})


if __name__ == "__main__":
    main()
