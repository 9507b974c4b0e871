"""What a nightly run and a month of them cost on AWS, beside Amazon Personalize for the same
shop: computed from what ``benchmarks/scale.py`` measured, never typed.

    python benchmarks/cost.py      # prints the tables, writes results/cost.md and docs/cost.md's

The shops: 1 M events a day (a ``training_window_days`` window of them), 100 M and 1 B
events per window, and the Lambda path's largest window (``spark_min_events``). Each window
runs on the engine ``recs.batch.engine.choose`` gives it. docs/cost.md says what each line
assumes; every price below names its page and the day it was read, and says plainly when the
figure could not be re-checked on that page here (no web access; the figure is the one
AWS's page showed when last read, as found in the stored copies named).

Measurements reach sizes not run here by the growth exponent measured between the two
largest sizes run (``y = y_max * (events / events_max) ** b``); a line that relies on such an
extrapolation says so.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOC = ROOT / "docs" / "cost.md"
BEGIN, END = "<!-- cost.py: begin -->", "<!-- cost.py: end -->"
READ_ON = "2026-11-30"
NIGHTS_A_MONTH = 30
# EMR Serverless bills the vCPUs it allocates, busy or not; the job's CPU seconds are what it
# uses. Assumed: its workers are busy three quarters of the time they are billed.
EMR_UTILISATION = 0.75
GIB = 2 ** 30


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    page: str  # AWS's pricing page for it
    seen: str  # where the figure itself was read
    checked: bool  # True: on AWS's own page as stored here


PRICES: dict[str, Price] = {
    "lambda_gb_s": Price(
        0.0000166667, "per GB-second, x86, first tier (the stack's default arch)",
        "https://aws.amazon.com/lambda/pricing/",
        "third-party copies of the page's table (cloudchipr.com/blog/aws-lambda-pricing; "
        "git.mcrn.ar/mariano/lambda_local_runner docs): AWS's stored page renders its rates "
        "client-side", False),
    "lambda_request": Price(
        0.20 / 1e6, "per request", "https://aws.amazon.com/lambda/pricing/",
        "the same third-party copies", False),
    "emr_vcpu_hour": Price(
        0.042094, "per vCPU-hour, arm64 (the application's architecture), us-east-1",
        "https://aws.amazon.com/emr/pricing/",
        "NOT RE-CHECKED HERE: not in any stored copy; the figure AWS's page gave when last read",
        False),
    "emr_gb_hour": Price(
        0.004628, "per GB-hour of memory, arm64, us-east-1",
        "https://aws.amazon.com/emr/pricing/", "NOT RE-CHECKED HERE (as above)", False),
    "emr_storage_gb_hour": Price(
        0.000111, "per GB-hour of ephemeral storage past the free 20 GB a worker",
        "https://aws.amazon.com/emr/pricing/", "NOT RE-CHECKED HERE (as above)", False),
    "dynamodb_wru": Price(
        0.625 / 1e6, "per write request unit, on-demand, us-east-1 (since the Nov 2024 cut)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "third-party copy (airbyte.com/data-engineering-resources/dynamodb-pricing); not on "
        "AWS's stored page text", False),
    "dynamodb_gb_month": Price(
        0.25, "per GB-month of table storage (Standard class)",
        "https://aws.amazon.com/dynamodb/pricing/", "AWS's page (stored copy)", True),
    "s3_gb_month": Price(
        0.023, "per GB-month, S3 Standard, first 50 TB",
        "https://aws.amazon.com/s3/pricing/",
        "third-party copies (cloudburn.io/blog/amazon-s3-pricing, howtogeek.com); AWS's "
        "stored page renders its table client-side", False),
    "s3_put": Price(
        0.005 / 1000, "per PUT, COPY, POST or LIST request, S3 Standard",
        "https://aws.amazon.com/s3/pricing/", "NOT RE-CHECKED HERE", False),
    "s3_get": Price(
        0.0004 / 1000, "per GET request, S3 Standard",
        "https://aws.amazon.com/s3/pricing/", "NOT RE-CHECKED HERE", False),
    "sfn_transition": Price(
        0.025 / 1000, "per state transition, Standard workflows, us-east-1",
        "https://aws.amazon.com/step-functions/pricing/", "AWS's page (stored copy)", True),
    "personalize_ingest_gb": Price(
        0.05, "per GB of data ingested (streamed or bulk)",
        "https://aws.amazon.com/personalize/pricing/",
        "NOT RE-CHECKED HERE: the stored copy (German) names the charge but not the figure",
        False),
    "personalize_training_hour": Price(
        0.24, "per training hour (4 vCPU, 8 GiB)",
        "https://aws.amazon.com/personalize/pricing/", "NOT RE-CHECKED HERE (as above)", False),
}
# Real-time recommendations, per TPS-hour a month, by tier: (TPS-hours in the tier, price).
PERSONALIZE_TPS_TIERS: tuple[tuple[float, float], ...] = (
    (20_000, 0.20), (180_000, 0.10), (math.inf, 0.05))
PERSONALIZE_TPS_SOURCE = Price(
    0.20, "per TPS-hour for the first 20,000 a month, then 0.10 to 200,000, then 0.05",
    "https://aws.amazon.com/personalize/pricing/", "NOT RE-CHECKED HERE (as above)", False)


# --- growth ---------------------------------------------------------------------------------

def growth(e1: float, y1: float, e2: float, y2: float) -> float:
    """The exponent b of y ~ events^b through two measurements."""
    return math.log(y2 / y1) / math.log(e2 / e1)


@dataclass(frozen=True)
class Curve:
    """One measured quantity (seconds, MB, ...) at the window sizes run, and beyond them."""

    points: tuple[tuple[float, float], ...]  # (events, value), ascending

    @property
    def exponent(self) -> float:
        """Between the two largest sizes; 1 (proportional) when only one size was run."""
        if len(self.points) < 2:
            return 1.0
        (e1, y1), (e2, y2) = self.points[-2], self.points[-1]
        return growth(e1, y1, e2, y2)

    def at(self, events: float) -> float:
        """Measured, interpolated in log-log between sizes, or extrapolated past the last."""
        pts = self.points
        for (e1, y1), (e2, y2) in itertools.pairwise(pts):
            if e1 <= events <= e2:
                return y1 * (events / e1) ** growth(e1, y1, e2, y2)
        anchor = pts[0] if events < pts[0][0] else pts[-1]
        return anchor[1] * (events / anchor[0]) ** self.exponent

    def extrapolated(self, events: float) -> bool:
        return events > self.points[-1][0] * 1.001


def curve(runs: Mapping[str, Mapping[str, Any]], value: Any) -> Curve | None:
    """A curve of ``value(run)`` over the runs of one engine (None where it is missing)."""
    pts = []
    for run in runs.values():
        y = value(run)
        if y:
            pts.append((float(run["events"]), float(y)))
    return Curve(tuple(sorted(pts))) if pts else None


# --- Step Functions -------------------------------------------------------------------------

def _value(state: Mapping[str, Any], path: str) -> Any:
    node: Any = state
    for part in path.removeprefix("$.").split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _matches(rule: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    """A Choice rule against a state: the comparison operators the pipeline uses."""
    if "And" in rule:
        return all(_matches(r, state) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, state) for r in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], state)
    value = _value(state, rule["Variable"])
    for op, expected in rule.items():
        if op == "IsPresent":
            return (value is not None) == expected
        if op in ("StringEquals", "BooleanEquals", "NumericEquals"):
            return bool(value == expected)
        if op == "NumericGreaterThanEquals":
            return value is not None and value >= expected
        if op == "NumericLessThan":
            return value is not None and value < expected
    return False


def transitions(definition: Mapping[str, Any], state: Mapping[str, Any],
                map_items: int) -> int:
    """State transitions one execution is billed for: one per state entered, following the
    Choices as ``state`` decides, each Map state's iterations (``map_items`` items, or their
    batches) counted with the states each child enters, a Distributed Map's child executions
    included. Retries would add one each; a night without failures has none."""
    count, name = 0, definition["StartAt"]
    states = definition["States"]
    while name:
        spec = states[name]
        count += 1
        if spec["Type"] == "Map":
            child = spec.get("ItemProcessor") or spec["Iterator"]
            batch = spec.get("ItemBatcher", {}).get("MaxItemsPerBatch", 1)
            count += math.ceil(map_items / batch) * transitions(child, state, map_items)
        if spec["Type"] == "Choice":
            name = next((c["Next"] for c in spec["Choices"] if _matches(c, state)),
                        spec.get("Default"))
        elif spec.get("End") or spec["Type"] in ("Succeed", "Fail"):
            name = None
        else:
            name = spec["Next"]
    return count


def pipeline_definition() -> dict[str, Any]:
    """The deployed state machine's definition (recs.batch.pipeline) with its Spark path,
    on stand-in ARNs and names."""
    from recs.batch import pipeline

    arns = {step: f"arn:aws:lambda:us-east-1:0:function:{step}" for step in pipeline.STEP_ORDER}
    spark = pipeline.SparkJob(application_id="app", execution_role_arn="arn:aws:iam::0:role/j",
                              bucket="bucket", entry_point="s3://bucket/job.py",
                              py_files="s3://bucket/recs.zip")
    return pipeline.build_definition(arns, spark)


# --- the inputs -----------------------------------------------------------------------------

@dataclass
class Inputs:
    """What the model multiplies by prices: measured here, or read from the project."""

    lambda_steps: dict[str, Curve]  # the Lambda path's steps: seconds
    lambda_peaks: dict[str, Curve]  # ... and peak MB
    spark_steps: dict[str, Curve]  # the Lambda steps around the Spark job: seconds
    spark_cpu_seconds: Curve | None  # the job's CPU seconds in local mode (its whole tree)
    spark_peak_mb: Curve | None
    rows: Curve  # DynamoDB rows a version has
    write_units_per_row: float
    item_bytes: float
    key_chunks_per_row: float
    export_rows_per_s: float  # rows/s one export Lambda writes (export_writes.md)
    event_bytes: Curve  # Parquet bytes of the window's events
    event_files: Curve
    artefact_bytes: Curve  # S3 bytes one version leaves (models/, interactions/)
    row_files: Curve | None  # the Spark job's row files (Distributed Map items)
    memory_mb: dict[str, int]  # deployed Lambda memory by step
    tuning_seconds: float
    window_days: int
    model_ttl_days: int
    artefact_days: int
    spark_min_events: int
    json_bytes_per_event: float  # an event as the API receives it (Personalize's ingest)
    definition: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def export_rate() -> float:
    """The best rows/s of results/export_writes.md (one Lambda, its worker threads)."""
    text = (RESULTS / "export_writes.md").read_text()
    rates = [float(m.replace(",", "")) for m in re.findall(r"^\| \d+ \| [\d.]+ \| ([\d,]+) \|",
                                                            text, re.M)]
    return max(rates)


def json_bytes_per_event() -> float:
    """Mean bytes of a synthetic event as a JSON object (what a tracker sends)."""
    sys.path.insert(0, str(HERE))
    import training

    rows = training.synthetic_events(2_000, 100, 2_000).to_pylist()
    return sum(len(json.dumps(r, default=str)) for r in rows) / len(rows)


def load_inputs(data: Mapping[str, Any] | None = None) -> Inputs:
    from recs.batch.config import BatchConfig
    from recs.contracts import resources

    data = data if data is not None else json.loads((RESULTS / "scale.json").read_text())
    local, spark = data.get("local", {}), data.get("spark", {})
    if not local:
        raise SystemExit("no single-node measurement: run benchmarks/scale.py first")
    config = BatchConfig()

    def steps(runs: Mapping[str, Any], key: str, skip: tuple[str, ...] = ()) -> dict[str, Curve]:
        names = {n for r in runs.values() for n in r["steps"] if n not in skip}
        out = {}
        for n in names:
            c = curve(runs, lambda r, n=n: r["steps"].get(n, {}).get(key))
            if c:
                out[n] = c
        return out

    smallest = min(local.values(), key=lambda r: r["events"])
    units = smallest.get("row_write_units", {})
    export: dict[str, Any] = next((r["steps"]["export"] for r in local.values()
                   if "key_chunks" in r["steps"].get("export", {})), {})
    rows = curve(local, lambda r: r.get("rows_written"))
    assert rows is not None
    key_chunks = export.get("key_chunks", 0) / max(
        (r.get("rows_written", 1) for r in local.values()
         if "key_chunks" in r["steps"].get("export", {})), default=1)
    return Inputs(
        lambda_steps=steps(local, "seconds"), lambda_peaks=steps(local, "peak_mb"),
        spark_steps=steps(spark, "seconds", skip=("spark job",)),
        spark_cpu_seconds=curve(spark, lambda r: r["steps"]["spark job"]["cpu_seconds"]),
        spark_peak_mb=curve(spark, lambda r: r["steps"]["spark job"]["peak_mb"]),
        rows=rows, write_units_per_row=units.get("write_units_per_row", 1.0),
        item_bytes=units.get("mean_item_bytes", 1024.0), key_chunks_per_row=key_chunks,
        export_rows_per_s=export_rate(),
        event_bytes=curve(local, lambda r: r["event_bytes"]) or Curve(((1, 1),)),
        event_files=curve(local, lambda r: r["event_files"]) or Curve(((1, 1),)),
        artefact_bytes=curve(spark or local, lambda r: sum(r["artefact_bytes"].values()))
        or Curve(((1, 1),)),
        row_files=curve(spark, lambda r: r.get("row_files")),
        memory_mb={s.name: s.memory_mb for s in resources.BATCH_STEPS},
        tuning_seconds=config.tuning_seconds, window_days=config.training_window_days,
        model_ttl_days=config.model_ttl_days, artefact_days=config.model_ttl_days + 7,
        spark_min_events=config.spark_min_events,
        json_bytes_per_event=json_bytes_per_event(), definition=pipeline_definition())


# --- the model ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shop:
    name: str
    window_events: float
    events_per_day: float
    requests_per_event: float = 1.0  # recommendation requests per tracked event


@dataclass
class Line:
    what: str
    quantity: float
    unit: str
    usd: float
    monthly: bool = False  # a monthly charge (storage, provisioned TPS), not per night
    extrapolated: bool = False


def tiered(amount: float, tiers: tuple[tuple[float, float], ...]) -> float:
    """USD for ``amount`` units priced by consecutive (units in tier, price) tiers."""
    usd, left = 0.0, amount
    for size, price in tiers:
        used = min(left, size)
        usd += used * price
        left -= used
        if left <= 0:
            break
    return usd


def engine_for(inputs: Inputs, events: float) -> str:
    return "spark" if events >= inputs.spark_min_events else "lambda"


def lambda_path_limits(inputs: Inputs, events: float) -> list[str]:
    """The Lambda steps that would pass 10 GB or 15 minutes at this window."""
    out = []
    for step, c in inputs.lambda_peaks.items():
        if c.at(events) > 10_240:
            out.append(f"{step} needs {c.at(events) / 1024:,.1f} GB")
    for step, c in inputs.lambda_steps.items():
        seconds = c.at(events) + (inputs.rows.at(events) / inputs.export_rows_per_s
                                  if step == "export" else 0)
        if seconds > 900:
            out.append(f"{step} takes {seconds / 60:,.0f} min")
    return out


def nightly(inputs: Inputs, shop: Shop, prices: Mapping[str, Price] = PRICES) -> list[Line]:
    """The lines of one night's bill and the month's standing charges, for ``shop``."""
    e = shop.window_events
    engine = engine_for(inputs, e)
    rows = inputs.rows.at(e)
    lines: list[Line] = []
    p = prices

    # Lambda: each step's seconds at its deployed memory; export also writes its rows.
    writing_s = rows / inputs.export_rows_per_s
    if engine == "lambda":
        steps = inputs.lambda_steps
        seconds = {s: c.at(e) for s, c in steps.items()}
        seconds["train"] = seconds.get("train", 0) + inputs.tuning_seconds
        seconds["export"] = seconds.get("export", 0) + writing_s
        extrapolated = any(c.extrapolated(e) for c in steps.values())
        invocations = len(seconds)
    else:
        steps = inputs.spark_steps
        seconds = {s: c.at(e) for s, c in steps.items()}
        files = inputs.row_files.at(e) if inputs.row_files else 1
        seconds["export"] = writing_s  # the Distributed Map's children, file by file
        extrapolated = any(c.extrapolated(e) for c in steps.values())
        invocations = len(seconds) + math.ceil(files)
    gb_s = sum(seconds[s] * inputs.memory_mb.get(s, 2048) / 1024 for s in seconds)
    lines.append(Line("Lambda compute (" + ", ".join(
        f"{s} {seconds[s]:,.0f} s" for s in seconds) + ")", gb_s, "GB-s",
        gb_s * p["lambda_gb_s"].usd, extrapolated=extrapolated))
    lines.append(Line("Lambda requests", invocations, "requests",
                      invocations * p["lambda_request"].usd))

    if engine == "spark":
        assert inputs.spark_cpu_seconds is not None
        vcpu_h = inputs.spark_cpu_seconds.at(e) / EMR_UTILISATION / 3600
        gb_h = vcpu_h * 4  # the default worker: 4 vCPU, 16 GB
        ext = inputs.spark_cpu_seconds.extrapolated(e)
        lines.append(Line("EMR Serverless vCPU", vcpu_h, "vCPU-hours",
                          vcpu_h * p["emr_vcpu_hour"].usd, extrapolated=ext))
        lines.append(Line("EMR Serverless memory (4 GB per vCPU)", gb_h, "GB-hours",
                          gb_h * p["emr_gb_hour"].usd, extrapolated=ext))
        lines.append(Line("EMR Serverless storage (within the free 20 GB a worker)", 0,
                          "GB-hours", 0.0))

    # DynamoDB: the version's rows, and as many deletes of the version retired tonight.
    wru = 2 * rows * (inputs.write_units_per_row + inputs.key_chunks_per_row)
    lines.append(Line("DynamoDB writes (rows written + a retired version's deleted)", wru,
                      "write units", wru * p["dynamodb_wru"].usd,
                      extrapolated=inputs.rows.extrapolated(e)))
    stored_gb = (inputs.model_ttl_days + 1) * rows * (inputs.item_bytes + 100) / GIB
    lines.append(Line(f"DynamoDB storage ({inputs.model_ttl_days + 1} versions' rows)",
                      stored_gb, "GB-months", stored_gb * p["dynamodb_gb_month"].usd,
                      monthly=True, extrapolated=inputs.rows.extrapolated(e)))

    # S3: every event file's footer read to size the window, then its rows: once by the
    # Spark job, or by the weight step and again by the tuning train step and evaluate (the
    # window is listed under the version, not copied); row files written, their footer and
    # key column read by the export's start, and each read whole by its export child.
    files = inputs.event_files.at(e)
    row_files = inputs.row_files.at(e) if engine == "spark" and inputs.row_files else 0
    gets = (2 if engine == "spark" else 4) * files + 3 * row_files + 10
    puts = row_files + 10 + math.ceil(files / 1000)  # the artefacts; LISTs of 1,000 keys
    lines.append(Line("S3 requests", gets + puts, "requests",
                      gets * p["s3_get"].usd + puts * p["s3_put"].usd))
    s3_gb = (inputs.event_bytes.at(e) + inputs.artefact_days * inputs.artefact_bytes.at(e)) / GIB
    lines.append(Line(f"S3 storage (the window's events, {inputs.artefact_days} versions' "
                      "artefacts)", s3_gb, "GB-months", s3_gb * p["s3_gb_month"].usd,
                      monthly=True, extrapolated=inputs.event_bytes.extrapolated(e)))

    count = transitions(inputs.definition, {"engine": engine, "gate": {"ok": True}},
                        math.ceil(row_files))
    lines.append(Line("Step Functions transitions", count, "transitions",
                      count * p["sfn_transition"].usd))
    return lines


def personalize(inputs: Inputs, shop: Shop, our_core_hours: float,
                prices: Mapping[str, Price] = PRICES) -> list[Line]:
    """Personalize for the same shop, a month: the events ingested, a nightly retraining, and
    a campaign provisioned for the shop's average requests around the clock."""
    ingest_gb = shop.events_per_day * NIGHTS_A_MONTH * inputs.json_bytes_per_event / GIB
    training_h = NIGHTS_A_MONTH * max(our_core_hours / 4, 1 / 60)
    tps = max(1.0, shop.events_per_day * shop.requests_per_event / 86_400)
    tps_hours = tps * 24 * NIGHTS_A_MONTH
    return [
        Line("Personalize data ingestion", ingest_gb, "GB", ingest_gb
             * prices["personalize_ingest_gb"].usd, monthly=True),
        Line("Personalize training, nightly (floor: our batch's core-hours / 4)", training_h,
             "training hours", training_h * prices["personalize_training_hour"].usd,
             monthly=True),
        Line(f"Personalize campaign at {tps:,.1f} TPS around the clock", tps_hours,
             "TPS-hours", tiered(tps_hours, PERSONALIZE_TPS_TIERS), monthly=True),
    ]


def core_hours(inputs: Inputs, engine: str, events: float) -> float:
    """Our batch's compute in core-hours: the Spark job's CPU hours, or the Lambda steps'
    seconds on this 2-core machine times its cores (an upper bound: export uses one)."""
    if engine == "spark" and inputs.spark_cpu_seconds is not None:
        return inputs.spark_cpu_seconds.at(events) / 3600
    return sum(c.at(events) for c in inputs.lambda_steps.values()) * 2 / 3600


def month(lines: list[Line]) -> float:
    return sum(line.usd if line.monthly else line.usd * NIGHTS_A_MONTH for line in lines)


def night(lines: list[Line]) -> float:
    return sum(line.usd for line in lines if not line.monthly)


SHOPS = (
    Shop("the Lambda path's largest window", 0, 0),  # filled in from spark_min_events
    Shop("1 M events a day", 0, 1e6),
    Shop("100 M events a window", 100e6, 0),
    Shop("1 B events a window", 1e9, 0),
)


def shops(inputs: Inputs) -> list[Shop]:
    out = []
    for shop in SHOPS:
        window = shop.window_events or (shop.events_per_day * inputs.window_days
                                        if shop.events_per_day else inputs.spark_min_events - 1)
        per_day = shop.events_per_day or window / inputs.window_days
        out.append(Shop(shop.name, window, per_day, shop.requests_per_event))
    return out


def _money(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"


def render(inputs: Inputs) -> Iterator[str]:
    yield ("| shop | window | engine | per night | per month | Personalize per month |")
    yield "| --- | --- | --- | --- | --- | --- |"
    details = []
    for shop in shops(inputs):
        engine = engine_for(inputs, shop.window_events)
        if engine == "spark" and inputs.spark_cpu_seconds is None:
            yield (f"| {shop.name} | {shop.window_events / 1e6:,.0f} M | spark | not measured "
                   f"yet | | |")
            continue
        lines = nightly(inputs, shop)
        ours = personalize(inputs, shop, core_hours(inputs, engine, shop.window_events))
        ext = "*" if any(line.extrapolated for line in lines) else ""
        yield (f"| {shop.name} | {shop.window_events / 1e6:,.0f} M | {engine} | "
               f"{_money(night(lines))}{ext} | {_money(month(lines))}{ext} | "
               f"{_money(month(ours))} |")
        details.append((shop, engine, lines, ours))
    yield ""
    yield ("\\* extrapolated past the largest window measured, by the measured growth "
           "exponent.")
    for shop, engine, lines, ours in details:
        yield ""
        yield (f"### {shop.name}: {shop.window_events / 1e6:,.0f} M events a window, "
               f"{shop.events_per_day / 1e6:,.2f} M a day, {engine} engine")
        yield ""
        limits = lambda_path_limits(inputs, shop.window_events)
        if engine == "spark" and limits:
            yield f"On the Lambda path instead: {'; '.join(limits)}."
            yield ""
        yield "| line | quantity | per night | per month |"
        yield "| --- | --- | --- | --- |"
        for line in [*lines, *ours]:
            mark = " *" if line.extrapolated else ""
            per_night = "" if line.monthly else _money(line.usd)
            per_month = _money(line.usd if line.monthly else line.usd * NIGHTS_A_MONTH)
            yield (f"| {line.what}{mark} | {line.quantity:,.1f} {line.unit} | {per_night} | "
                   f"{per_month} |")
        yield (f"| **ours** | | **{_money(night(lines))}** | **{_money(month(lines))}** |")
        yield f"| **Personalize** | | | **{_money(month(ours))}** |"


def sources() -> Iterator[str]:
    yield "| price | figure | page | read | figure seen on AWS's page here | where it was seen |"
    yield "| --- | --- | --- | --- | --- | --- |"
    for name, price in [*PRICES.items(), ("personalize_tps_hour", PERSONALIZE_TPS_SOURCE)]:
        yield (f"| {name} | ${price.usd:.10g} {price.unit} | {price.page} | {READ_ON} | "
               f"{'yes' if price.checked else '**no**'} | {price.seen} |")


def main() -> None:
    inputs = load_inputs()
    text = "\n".join([*render(inputs), "", "### Prices", "", *sources()])
    print(text)
    (RESULTS / "cost.md").write_text(
        "# Cost model output\n\nWritten by `python benchmarks/cost.py` from results/scale.json "
        "and results/export_writes.md; docs/cost.md explains each line.\n\n" + text + "\n")
    if DOC.exists():
        doc = DOC.read_text()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            DOC.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])


if __name__ == "__main__":
    main()
