"""Schemathesis against the local server's OpenAPI document: no 5xx, nothing undocumented.

The stack is the local one (``tests.local_stack``: the real handlers on moto, a trained model,
``recs_local.server`` with an API key on a loopback port). Schemathesis loads the document
from ``GET /swagger?format=json`` and, for each of its operations (every documented route of
the table, the seven of the issue among them), sends

- the coverage phase's requests: each parameter's and body field's boundary values, each
  declared constraint broken once, and methods the path does not take;
- hypothesis-generated requests inside the schemas (positive) and outside them (negative),
  derandomised (in a fresh interpreter with a fixed hash seed: ``tests.fuzz.fuzzing``) so
  every run sends the same ones. GET /recommendations, GET /items/{id}/similar and
  POST /models/{version}/promote also get requests for a known shopper, item and the live
  version, so the personalised, neighbour and promote paths answer too; POST /events also
  gets generated events with a recent time and a shopper, which the API accepts.

Every answer must be: not a 5xx, a status the operation documents, a body matching that
status's schema, and a 4xx for a request outside the schemas (207 counts for a batch: the
valid entries of a mixed batch are accepted, which is the point). For ``POST /events`` and
``PUT /items`` each entry outside the entry schema must be listed in ``errors`` by its index.
Unknown query parameters are not generated: the API ignores them, as API Gateway does.

What the fuzz got accepted must then be usable: every accepted event lands in ``events/``
(nothing dead-lettered, nothing quarantined), and the nightly run over what the fuzz left
succeeds while the live model keeps answering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from recs.contracts.routes import ROUTES

ROOT = Path(__file__).resolve().parents[2]
MIN_REQUESTS = 1_000
# The seven operations of the issue; the run must reach every documented route of the table.
OPERATIONS = {"POST /events", "PUT /items", "GET /recommendations",
              "GET /recommendations/trending", "GET /items/{item_id}/similar",
              "GET /models/status", "POST /models/{version}/promote"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The run's report (``tests.fuzz.fuzzing``), made in a fresh interpreter."""
    path = tmp_path_factory.mktemp("fuzz") / "report.json"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tests.fuzz.fuzzing", str(path)], cwd=ROOT,
                          env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-5000:]
    result: dict[str, Any] = json.loads(path.read_text())
    by_operation = Counter[str]()
    for label, _, count in result["requests"]:
        by_operation[label] += count
    print(f"\nschemathesis: {sum(by_operation.values())} requests in "
          f"{result['seconds']:.1f} s ({time.perf_counter() - started:.1f} s with the stack); "
          + ", ".join(f"{label}: {count}" for label, count in sorted(by_operation.items())))
    print("statuses: " + ", ".join(f"{label} {status}: {count}"
                                   for label, status, count in result["requests"]))
    return result


def test_at_least_1000_requests_reach_every_operation(report: dict[str, Any]) -> None:
    assert sum(count for _, _, count in report["requests"]) >= MIN_REQUESTS
    reached = {label for label, _, _ in report["requests"]}
    assert reached == {route.key for route in ROUTES if route.documented}
    assert reached >= OPERATIONS


def test_no_answer_is_a_5xx_or_outside_the_document(report: dict[str, Any]) -> None:
    findings = report["findings"]
    distinct = {(f["operation"], f["status"], tuple(f["problems"])): f for f in findings}
    assert not distinct, (f"{len(findings)} answers broke the contract, "
                          f"{len(distinct)} distinct:\n\n" + "\n\n".join(
                              f"{f['operation']} [{f['source']}] answered {f['status']}: "
                              f"{'; '.join(f['problems'])}\n{f['detail']}"
                              for f in distinct.values()))


def test_every_event_the_fuzz_got_accepted_lands(report: dict[str, Any]) -> None:
    assert report["accepted_events"] > 0, "the fuzz got no event accepted: nothing to land"
    assert report["not_landed"] == []
    assert report["still_queued"] == 0
    assert report["dead_letters"] == [] and report["quarantined"] == []


def test_the_nightly_run_over_what_the_fuzz_left_succeeds(report: dict[str, Any]) -> None:
    assert report["nightly"]["status"] == "SUCCEEDED", report["nightly"]
    assert report["after"]["status"] == 200
    assert report["after"]["item"] == "lamb"  # C's answer still comes from the model
    assert report["after"]["tier"] in ("session", "personalised")
