"""The catalog's first load through the CLI, and attribution ids stored with events."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq

from recs.contracts import resources
from recs.contracts.keys import unavailable_key, unavailable_shard
from recs_local.attribution import summarise
from recs_local.cli import main
from tests.conftest import api_event, call, event


def test_import_catalog_loads_a_csv_like_put_items(cloud: Any, tmp_path: Path,
                                                   capsys: Any) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,category,price,available,colour\n"
                    "rice,Basmati Rice,food/staples,2.5,true,white\n"
                    "gone,Old Thing,misc,1,false,\n"
                    ",No Id,misc,1,true,\n")
    assert main(["import-catalog", str(path)]) == 0
    out = capsys.readouterr()
    assert "2 items imported, 1 rejected" in out.out and "item_id" in out.err
    keys = boto3.client("s3").list_objects_v2(Bucket=resources.LOCAL_BUCKET,
                                              Prefix="catalog/")["Contents"]
    body = boto3.client("s3").get_object(Bucket=resources.LOCAL_BUCKET,
                                         Key=keys[0]["Key"])["Body"].read().decode()
    items = {i["item_id"]: i for i in map(json.loads, body.splitlines())}
    assert items["rice"]["title"] == "Basmati Rice"
    assert json.loads(items["rice"]["attributes"]) == {"colour": "white"}
    unavailable = boto3.client("dynamodb").get_item(
        TableName=resources.REALTIME.local_name,
        Key={"pk": {"S": unavailable_key(unavailable_shard("gone"))}})
    assert unavailable["Item"]["items"]["SS"] == ["gone"]


def test_events_carry_their_recommendation_id_into_parquet_and_attribution(cloud: Any) -> None:
    status, answer = call(cloud, "api", api_event("GET", "/recommendations/trending"))
    assert status == 200
    rid = f"{answer['recommendation_id']}.trending"
    events = [event("A", "rice", "impression", recommendation_id=rid),
              event("A", "rice", "click", recommendation_id=rid)]
    assert call(cloud, "ingest", api_event("POST", "/events", body={"events": events}))[0] == 200
    cloud.pump_queue()
    s3 = boto3.client("s3")
    key = s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET, Prefix="events/")["Contents"][0]
    table = pq.read_table(io.BytesIO(
        s3.get_object(Bucket=resources.LOCAL_BUCKET, Key=key["Key"])["Body"].read()))
    assert set(table["recommendation_id"].to_pylist()) == {rid}
    row = summarise(table.to_pylist())[0]
    assert (row["model_version"], row["tier"], row["ctr"]) == ("none", "trending", 1.0)
