"""`recs demo`, then `recs experiments` in another process with the key the demo serves with
(``RECS_API_KEY``), as an operator would run them. The commands' answers are checked in
detail by tests/local/test_experiments_cli.py; this checks the processes fit together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recs_local.sample_data import write_csv
from tests.conftest import rice_milk_lamb
from tests.e2e.conftest import API_KEY, demo_server, request

pytestmark = pytest.mark.e2e


def recs(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recs_local.cli", "experiments", *args,
                           "--url", url], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "RECS_API_KEY": API_KEY})


def test_an_experiment_run_from_the_command_line(tmp_path: Path) -> None:
    csv_path = tmp_path / "events.csv"
    write_csv(rice_milk_lamb(), csv_path)
    declared = tmp_path / "experiment.json"
    declared.write_text(json.dumps({"name": "e2e", "variants": [
        {"name": "trending", "control": True}, {"name": "live"}]}))
    with demo_server("--events", str(csv_path)) as url:
        created = recs(url, "create", str(declared))
        assert created.returncode == 0, created.stderr
        experiment = json.loads(created.stdout)["id"]
        status, answer = request(f"{url}/recommendations?user_id=C")
        assert status == 200 and answer["experiment"]["id"] == experiment
        report = recs(url, "report", experiment)
        assert report.returncode == 0, report.stderr
        summary = report.stdout.split("\n\n", 1)[0].splitlines()
        assert summary[0] == f"e2e ({experiment}, running)"
        served = {line.split()[0].rstrip(":"): int(line.split()[1]) for line in summary[2:]}
        assert served == {name: int(name == answer["experiment"]["variant"])
                          for name in ("trending", "live")}  # C's one served list
        stopped = recs(url, "stop", experiment, "--winner", "live")
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout)["status"] == "stopped"
        again = recs(url, "stop", experiment)
        assert again.returncode == 1 and ": 409" in again.stderr
