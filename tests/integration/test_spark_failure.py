"""A Spark job that fails fails the night: on moto's server, the job refuses settings its
engine does not train (before Spark starts), the state machine's Spark task fails with the
job's own error, and nothing is promoted or exported."""

from __future__ import annotations

import shutil

import boto3
import pytest

from recs.contracts import resources
from recs_local import sample_data
from recs_local.cloud import REGION
from recs_local.demo import as_of_after, ingest_all
from tests.server_night import END, night_on_server

# The job runs PySpark, which needs a JVM (make test installs one: make java).
needs_java = pytest.mark.skipif(shutil.which("java") is None,
                                reason="Java is missing: make test installs "
                                       "openjdk-17-jre-headless")


@needs_java
def test_a_failed_job_fails_the_run_with_its_error_and_promotes_nothing() -> None:
    # The weight step runs EASE's discovery fine; the Spark engine trains RP3beta or cosine.
    settings = {"RECS_ENGINE": "spark", "RECS_DISCOVERY": "ease", "RECS_TUNING_SECONDS": "0"}
    with night_on_server(settings, users=20, days=5, catalog=False) as (_, result, _):
        registry = boto3.resource("dynamodb", region_name=REGION).Table(
            resources.REGISTRY.local_name).scan()["Items"]
    assert result["status"] == "FAILED" and result["error"] == "BatchFailed"
    assert "recs_spark.job exited with 1" in result["cause"]
    assert "the Spark engine trains the blend with a discovery of" in result["cause"]
    assert registry == []  # no version recorded, no pointer: nothing was exported


def test_the_in_process_cloud_says_the_spark_job_needs_the_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' in-process mock cannot be reached from the job's process: the run fails at
    the Spark task and says why, rather than the job failing on a connection."""
    from recs_local.cloud import in_process

    monkeypatch.setenv("RECS_ENGINE", "spark")
    monkeypatch.setenv("RECS_TUNING_SECONDS", "0")
    with in_process() as cloud:
        events = sample_data.generate(users=10, days=3, end=END)
        ingest_all(cloud, events)
        cloud.pump_queue()
        result = cloud.run_batch(as_of_after(events), timeout_s=120)
    assert result["status"] == "FAILED"
    assert "reaches moto only through its server" in result["cause"]
