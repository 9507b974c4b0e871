"""``recs experiments`` against the local server (``tests.local_stack``: the real handlers on
moto behind ``recs_local.server``), as an operator would use it after ``make demo``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recs_local.cli import main
from tests.local_stack import API_KEY, LocalStack, local_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack() as running:
        # The CLI's output is read from stdout, where the API's metric lines (EMF) would mix
        # in; off for this stack, as in the demo (in_process restores the environment).
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        yield running


def recs(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str,
         key: str | None = API_KEY) -> tuple[int, str, str]:
    """Run ``recs experiments ...`` on the stack: (exit code, stdout, stderr)."""
    code = main(["experiments", *args, "--url", stack.base_url,
                 *(("--api-key", key) if key else ())])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_report_and_stop_with_a_roll_out(
        stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    declared = {"name": "cli", "surface": "recommendations", "unit": "user",
                "variants": [{"name": "trending", "control": True},
                             {"name": "live", "model_version": stack.version,
                              "settings": {"max_per_category": 2}}]}
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(declared))
    code, out, _ = recs(stack, capsys, "create", str(path))
    created = json.loads(out)
    assert code == 0 and created["status"] == "running" and created["name"] == "cli"

    code, out, _ = recs(stack, capsys, "list")
    assert code == 0 and [e["id"] for e in json.loads(out)["experiments"]] == [created["id"]]

    for shopper in ("A", "B", "C"):  # each served list counts a unit in its arm
        status, _ = stack.request("GET", f"/recommendations?user_id={shopper}")
        assert status == 200
    code, out, _ = recs(stack, capsys, "report", created["id"])
    summary, _, document = out.partition("\n\n")
    report: dict[str, Any] = json.loads(document)
    assert code == 0 and report["id"] == created["id"]
    units = {name: row["units"] for name, row in report["results"]["variants"].items()}
    assert sum(units.values()) == 3
    lines = summary.splitlines()
    assert lines[0] == f"cli ({created['id']}, running)"
    assert lines[1] == f"  verdict: {report['results']['verdict']}"
    for line, (name, count) in zip(lines[2:], units.items(), strict=True):
        assert line.split()[:3] == [f"{name}:", str(count), "units"]
        assert "CTR 0.0%" in line

    code, out, _ = recs(stack, capsys, "stop", created["id"], "--winner", "live", "--roll-out")
    stopped = json.loads(out)
    assert code == 0 and (stopped["status"], stopped["winner"]) == ("stopped", "live")
    assert stopped["rolled_out"] == {"live_version": stack.version,
                                     "previous_version": stack.version, "changed": False}
    assert stopped["settings_to_apply"] == {"RECS_MAX_PER_CATEGORY": 2}


def test_refusals_exit_1_with_the_routes_answer(
        stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = recs(stack, capsys, "report", "no-such-experiment")
    assert code == 1 and err.startswith("GET /experiments/no-such-experiment: 404")
    assert json.loads(err.partition("\n")[2])["message"] == (
        "experiment no-such-experiment does not exist")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "x", "variants": [{"name": "only"}]}))
    code, _, err = recs(stack, capsys, "create", str(path))
    assert code == 1 and json.loads(err.partition("\n")[2])["field"] == "variants"


def test_a_request_that_cannot_be_made_exits_2(
        stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{")
    code, _, err = recs(stack, capsys, "create", str(path))
    assert code == 2 and "broken.json is not JSON" in err
    monkeypatch.delenv("RECS_API_KEY", raising=False)
    code, _, err = recs(stack, capsys, "list", key=None)
    assert code == 2 and "no API key" in err
    code, _, _ = recs(stack, capsys, "list", key="wrong")
    assert code == 1  # the local server refuses a wrong key, as API Gateway does
