"""The deployed Lambda steps fit every window the Lambda path accepts, by measurement.

``benchmarks/training.py`` measures each nightly step's seconds and peak memory at 20 M
events on 2 cores (``benchmarks/results/training-20000000.md`` untuned,
``-tuned.md`` with the nightly tuning), and ``export_writes.py`` the DynamoDB writes'
rows per second. A window of ``spark_min_events`` or more goes to Spark; below it, each
step's memory and time are extrapolated linearly from those measurements (above the
measured size: time and memory grow about linearly with events, slightly less, so this
overestimates) and must fit the deployed ``FunctionSpec`` with room to spare: a quarter more
memory than predicted, and twice the predicted time within the timeout (machines differ by up
to 1.8x). A Lambda below 1,769 MB per vCPU has fewer than the 2 measured cores: its time is
scaled by the cores it lacks. Re-running the benchmark slower or bigger fails this test until
the memory or the threshold follows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recs.batch.config import BatchConfig
from recs.contracts import resources
from recs.contracts.resources import FunctionSpec

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
MEASURED_CORES = 2
MEMORY_ROOM = 1.25
TIME_ROOM = 2.0
EXPORT_WRITE_WORKERS = 8  # recs.stores.aws.WRITE_WORKERS


def step_table(name: str) -> tuple[int, dict[str, tuple[float, float]], int]:
    """Events, each step's (seconds, peak MB) and the export's row count of a results file."""
    text = (RESULTS / name).read_text()
    events = int(re.search(r"([\d,]+) events", text).group(1).replace(",", ""))  # type: ignore[union-attr]
    steps = {}
    for line in text.splitlines():  # | step | seconds | ... | peak resident MB |
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        label = cells[0].split(" ")[0] if cells else ""
        if label in ("weight", "train", "evaluate", "export") and label not in steps:
            steps[label] = (float(cells[1]), float(cells[-1].replace(",", "")))
    rows = int(re.search(r"made ([\d,]+) DynamoDB rows", text).group(1).replace(",", ""))  # type: ignore[union-attr]
    return events, steps, rows


def rows_per_second() -> float:
    text = (RESULTS / "export_writes.md").read_text()
    row = re.search(rf"^\| {EXPORT_WRITE_WORKERS} \| [\d.]+ \| ([\d,]+) \|", text, re.MULTILINE)
    assert row, "export_writes.md has no row for the export's worker count"
    return float(row.group(1).replace(",", ""))


# Beside the default run: tuned (the train step tunes in its time box first), and with a
# short-history route (a second model fitted and ranking the short histories).
VARIANTS = ("training-20000000-tuned.md", "training-20000000-route.md")


def measured() -> tuple[int, dict[str, tuple[float, float]], int]:
    """Per step, the largest seconds and peak of the default run and its variants."""
    events, steps, rows = step_table("training-20000000.md")
    for variant in VARIANTS:
        variant_events, other, _ = step_table(variant)
        assert variant_events == events
        steps = {name: (max(steps[name][0], other.get(name, steps[name])[0]),
                        max(steps[name][1], other.get(name, steps[name])[1])) for name in steps}
    return events, steps, rows


STEPS = {"weight": resources.WEIGHT, "train": resources.TRAIN,
         "evaluate": resources.EVALUATE, "export": resources.EXPORT}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_the_largest_lambda_window_fits_each_steps_memory_and_timeout(name: str) -> None:
    spec: FunctionSpec = STEPS[name]
    events, steps, rows = measured()
    assert name in steps, f"the benchmark measured no {name} step"
    seconds, peak_mb = steps[name]
    largest = BatchConfig().spark_min_events  # the Lambda path takes fewer events
    scale = max(1.0, largest / events)
    assert peak_mb * scale * MEMORY_ROOM <= spec.memory_mb, (
        f"{name}: {peak_mb * scale:,.0f} MB predicted at {largest:,} events")
    slowdown = max(1.0, MEASURED_CORES / min(6.0, spec.memory_mb / resources.LAMBDA_MB_PER_VCPU))
    predicted = seconds * scale * slowdown
    if name == "export":  # the rows' writing to DynamoDB, measured apart
        predicted += rows * scale / rows_per_second()
    assert predicted * TIME_ROOM <= spec.timeout_s, (
        f"{name}: {predicted:,.0f} s predicted at {largest:,} events")


def test_the_deployed_memory_stays_within_lambdas_limit() -> None:
    assert all(128 <= spec.memory_mb <= 10_240 for spec in STEPS.values())
