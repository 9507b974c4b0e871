"""The export in several processes, as deployed (``RECS_EXPORT_PROCESSES``, one per vCPU):
the night on moto's server, whose table every forked process reaches through its own client,
writes exactly the rows the one-process export makes, each once, and counts them right."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from recs.batch.model import Model
from recs.batch.steps.export import export_rows
from recs.contracts import resources
from recs.formats import row_files
from recs_local.cloud import REGION
from tests.server_night import night_on_server


@pytest.fixture(scope="module")
def night() -> Iterator[dict[str, Any]]:
    settings = {"RECS_EXPORT_PROCESSES": "3", "RECS_TUNING_SECONDS": "0",
                "RECS_TRAINING_WINDOW_DAYS": "30"}
    with night_on_server(settings, users=80, days=10) as (_, result, _):
        assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
        output = result["output"]
        s3 = boto3.client("s3", region_name=REGION)
        model = Model.from_bytes(s3.get_object(
            Bucket=resources.LOCAL_BUCKET, Key=output["model_key"])["Body"].read())
        catalog = json.loads(s3.get_object(
            Bucket=resources.LOCAL_BUCKET, Key=output["catalog_key"])["Body"].read())
        table = boto3.resource("dynamodb", region_name=REGION).Table(
            resources.RECOMMENDATIONS.local_name)
        items, page = [], table.scan()
        items.extend(page["Items"])
        while "LastEvaluatedKey" in page:
            page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
            items.extend(page["Items"])
        yield {"output": output, "model": model, "catalog": catalog, "items": items}


def test_the_table_holds_exactly_the_one_process_exports_rows(night: dict[str, Any]) -> None:
    version = night["output"]["version"]
    expected = {row.key: row_files.entries_json(row.items)
                for row in export_rows(night["model"], version, 0, night["catalog"])}
    stored = {str(item["pk"]): str(item["items"]) for item in night["items"]
              if item["sk"] == version and not str(item["pk"]).startswith("KEYS#")}
    assert stored.keys() == expected.keys()
    assert {k: json.loads(v) for k, v in stored.items()} == {
        k: json.loads(v) for k, v in expected.items()}


def test_the_counts_add_the_shares_up_and_the_version_goes_live(night: dict[str, Any]) -> None:
    output = night["output"]
    counts = output["counts"]
    assert counts["rows_written"] == counts["rows_expected"] == sum(
        1 for _ in export_rows(night["model"], output["version"], 0, night["catalog"]))
    assert output["promoted"] is True
