"""The nightly batch on the Spark path, end to end on moto's server: the weight step sends the
window to the Spark job (``recs_spark.job`` in local mode, as the local cloud runs the
state machine's ``emr-serverless:startJobRun.sync`` task), train collects its manifest,
evaluate scores its shadow, the Distributed Map exports its row files, promote makes the
version live, and the API serves its rows.

About a minute: the JVM's start and the job's local-mode stages are most of it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from recs.contracts import keys, layout, resources
from recs.formats import row_files
from recs_local.cloud import REGION, LocalCloud
from tests.conftest import api_event, call
from tests.server_night import night_on_server

# The job runs PySpark, which needs a JVM (make test installs one: make java).
pytestmark = pytest.mark.skipif(shutil.which("java") is None,
                                reason="Java is missing: make test installs "
                                       "openjdk-17-jre-headless")


@pytest.fixture(scope="module")
def spark_run() -> Iterator[tuple[LocalCloud, dict[str, Any], list[dict[str, Any]]]]:
    settings = {"RECS_ENGINE": "spark", "RECS_TUNING_SECONDS": "0",
                "RECS_TRAINING_WINDOW_DAYS": "30"}
    with night_on_server(settings, users=60, days=10) as (cloud, result, events):
        assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
        yield cloud, result["output"], events


def test_the_spark_path_trains_exports_and_promotes(
        spark_run: tuple[LocalCloud, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, output, _ = spark_run
    version = output["version"]
    assert output["engine"] == "spark"
    assert output["spark_job"]["job_run_id"]  # the task's ResultSelector kept the run's id
    assert output["shadow_key"] == layout.shadow_model(version)
    assert output["metrics"]["candidate"]  # evaluate scored the job's shadow
    counts = output["counts"]
    assert counts["rows_written"] == counts["rows_expected"] > 0
    assert counts["row_files"] >= 1
    assert output["promoted"] is True and output["live_version"] == version
    assert "export_parts" not in output  # the finish took the Map's results out


def test_the_table_holds_exactly_the_row_files_rows(
        spark_run: tuple[LocalCloud, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, output, _ = spark_run
    version = output["version"]
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET,
                                Prefix=layout.rows_prefix(version))["Contents"]
    in_files = {}
    for entry in listed:
        body = s3.get_object(Bucket=resources.LOCAL_BUCKET, Key=entry["Key"])["Body"].read()
        in_files.update({row.key: row for row in row_files.read(body)})
    assert len(in_files) == output["counts"]["rows_written"]
    table = boto3.resource("dynamodb", region_name=REGION).Table(
        resources.RECOMMENDATIONS.local_name)
    stored = {}
    for item in table.scan()["Items"]:
        if item["sk"] == version and not str(item["pk"]).startswith("KEYS#"):
            stored[item["pk"]] = item
    assert set(stored) == set(in_files)
    some_user = next(k for k in in_files if k.startswith(keys.user_key("")))
    assert json.loads(stored[some_user]["items"]) == json.loads(
        row_files.entries_json(in_files[some_user].items))


def test_the_api_serves_the_spark_versions_lists(
        spark_run: tuple[LocalCloud, dict[str, Any], list[dict[str, Any]]]) -> None:
    cloud, output, events = spark_run
    user = next(e["user_id"] for e in events if e.get("user_id"))
    status, answer = call(cloud, "api", api_event("GET", "/recommendations",
                                                  {"user_id": user, "num_items": "5"}))
    assert status == 200 and answer["model_version"] == output["version"]
    assert answer["items"] and "personalised" in answer["tiers"]
    item = answer["items"][0]["item_id"]
    status, similar = call(cloud, "api", api_event("GET", f"/items/{item}/similar"))
    assert status == 200 and similar["items"]
