"""The nightly batch on the real state machine (moto) when its inputs are broken, its runs
fail for weeks, or a live day is run again: it degrades, reports, and the live model serves.

What the operator sees is checked where they would see it: the execution's output, the
version's registry record, and the CloudWatch metrics the functions print in the embedded
metric format (``UnreadableInputs``, ``ModelPromoted``; the alarms are on those).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from recs.batch.config import BatchConfig
from recs.contracts import keys, layout, resources
from recs.stores import wiring
from tests.conftest import api_event, call, load_event

AS_OF = load_event("batch_start.json")["as_of"]  # the sample events are of the day before


def s3() -> Any:
    return boto3.client("s3")


def put(key: str, body: bytes) -> None:
    s3().put_object(Bucket=resources.LOCAL_BUCKET, Key=key, Body=body)


def landed(cloud: Any) -> bytes:
    """The sample events, through ingest and the lander: the one good file's bytes."""
    assert call(cloud, "ingest", load_event("ingest_post_events.json"))[0] == 200
    assert cloud.pump_queue() >= 1
    listed = s3().list_objects_v2(Bucket=resources.LOCAL_BUCKET, Prefix=layout.EVENTS)
    [key] = [o["Key"] for o in listed["Contents"]]
    body: bytes = s3().get_object(Bucket=resources.LOCAL_BUCKET, Key=key)["Body"].read()
    return body


@contextlib.contextmanager
def printed() -> Iterator[io.StringIO]:
    """What the functions print meanwhile: Powertools prints each EMF document to stdout,
    where Lambda hands it to CloudWatch. (Not pytest's capsys: Powertools' logger keeps the
    first stream it was given, which capsys closes after the test.)"""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def metrics(out: io.StringIO, name: str) -> list[float]:
    """The values of ``name`` in the EMF documents printed (namespace recs, the service
    dimension only: what the CDK alarms watch)."""
    values: list[float] = []
    for text in out.getvalue().splitlines():
        if not text.startswith("{") or '"_aws"' not in text:
            continue
        document = json.loads(text)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = [metric["Name"] for metric in directive["Metrics"]]
            if name in names:
                assert directive["Namespace"] == resources.METRICS_NAMESPACE
                assert directive["Dimensions"] == [["service"]]
                assert document["service"] == resources.SERVICE
                value = document[name]
                values.extend(float(v) for v in (value if isinstance(value, list) else [value]))
    return values


def foreign_schema() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"order": [1, 2, 3], "sku": ["a", "b", "c"]}), buffer)
    return buffer.getvalue()


def test_unreadable_files_and_a_bad_catalog_line_are_skipped_reported_and_counted(
        cloud: Any) -> None:
    good = landed(cloud)
    day = layout.event_partition("2026-11-20")
    broken = {f"{day}part-empty.parquet": b"",
              f"{day}part-truncated.parquet": good[: len(good) // 3],
              f"{day}part-corrupt.parquet": b"PAR1" + bytes(200) + b"PAR1",
              f"{day}part-foreign.parquet": foreign_schema()}
    for key, body in broken.items():
        put(key, body)
    # An upsert accepted before intake refused lone surrogates: one bad line, two good ones.
    delta = layout.catalog_delta(1_795_000_000_000, "old")
    lines = [json.dumps({"item_id": item, "category": category, "updated_at": 1}).encode()
             for item, category in (("rice", "food"), ("lamb", "\ud800"), ("milk", "food"))]
    put(delta, b"\n".join(lines) + b"\n")
    cloud.module("weight").config = BatchConfig(max_unreadable_share=0.9)

    with printed() as out:
        result = cloud.run_batch(AS_OF)
    assert result["status"] == "SUCCEEDED", result
    output = result["output"]
    assert output["promoted"] is True and output["counts"]["events"] == 7
    skipped = output["skipped"]
    assert sorted(s["key"] for s in skipped["events"]) == sorted(broken)
    reasons = {s["key"].rsplit("-", 1)[1]: s["reason"] for s in skipped["events"]}
    assert reasons["empty.parquet"] == "empty file"
    assert reasons["foreign.parquet"].startswith("foreign schema: no column event_id")
    assert skipped["catalog"] == [{"key": delta, "line": 2, "bytes": len(lines[1]) + 1,
                                   "reason": "category: not encodable as UTF-8 (a lone "
                                             "surrogate)"}]
    counts = output["counts"]
    assert (counts["skipped_event_files"], counts["skipped_catalog_lines"]) == (4, 1)
    assert counts["catalog_items"] == 2

    record = wiring.model_registry().get_version(output["version"])
    assert record is not None and record.status == "live"
    assert record.skipped == skipped and record.counts["skipped_event_files"] == 4
    assert metrics(out, resources.UNREADABLE_INPUTS_METRIC) == [5.0]

    status, answer = call(cloud, "api", load_event("api_get_recommendations.json"))
    assert status == 200 and answer["items"][0]["item_id"] == "lamb"


def test_past_the_threshold_the_run_fails_says_why_and_live_keeps_serving(
        cloud: Any) -> None:
    good = landed(cloud)
    with printed() as out:
        first = cloud.run_batch(AS_OF)["output"]
        assert first["promoted"] is True
        # Half of a file as large as the good one: a third of the window's bytes, over 10 %.
        put(f"{layout.event_partition('2026-11-21')}part-half.parquet", good[: len(good) // 2])
        failed = cloud.run_batch("2026-11-22")
    assert failed["status"] == "FAILED" and failed["error"] == "BatchFailed"
    assert "RECS_MAX_UNREADABLE_SHARE" in failed["cause"] and "part-half" in failed["cause"]
    assert metrics(out, resources.UNREADABLE_INPUTS_METRIC) == [0.0, 1.0]
    assert metrics(out, resources.MODEL_PROMOTED_METRIC) == [1.0]  # the failed run: none
    status, answer = call(cloud, "api", load_event("api_get_recommendations.json"))
    assert status == 200 and answer["model_version"] == first["version"]
    assert answer["items"][0]["item_id"] == "lamb"


def test_rerunning_a_live_day_leaves_it_live(cloud: Any) -> None:
    landed(cloud)
    with printed() as out:
        first = cloud.run_batch(AS_OF)["output"]
        again = cloud.run_batch(AS_OF)
    assert again["status"] == "SUCCEEDED"
    assert again["output"]["version"] == first["version"]
    assert again["output"]["promoted"] is True and again["output"]["changed"] is False
    record = wiring.model_registry().get_version(first["version"])
    assert record is not None and record.status == "live"
    status, answer = call(cloud, "api", api_event("GET", "/models/status"))
    assert status == 200 and answer["live_version"] == first["version"]
    assert [v["status"] for v in answer["recent"] if v["version"] == first["version"]] == [
        "live"]
    assert metrics(out, resources.MODEL_PROMOTED_METRIC) == [1.0, 0.0]


def test_35_failed_nights_and_the_live_rows_still_carry_no_ttl(cloud: Any) -> None:
    landed(cloud)
    first = cloud.run_batch(AS_OF)["output"]
    live = first["version"]
    put(f"{layout.event_partition('2026-11-21')}part-broken.parquet", b"not parquet at all")
    cloud.module("weight").config = BatchConfig(max_unreadable_share=0.0)
    start = date.fromisoformat(AS_OF)
    for offset in range(1, 36):
        run = cloud.run_batch((start + timedelta(days=offset)).isoformat())
        assert run["status"] == "FAILED", (offset, run)

    # moto never expires an item, so what is checked is what DynamoDB's TTL would act on.
    rows = boto3.client("dynamodb").scan(TableName=resources.RECOMMENDATIONS.local_name)
    of_live = [item for item in rows["Items"] if item["sk"]["S"] == live]
    assert {item["pk"]["S"] for item in of_live} >= {"U#C", keys.GLOBAL_TRENDING,
                                                      keys.row_keys_key(0)}
    assert not [item for item in of_live if "expires_at" in item]
    status, answer = call(cloud, "api", load_event("api_get_recommendations.json"))
    assert status == 200 and answer["model_version"] == live
    assert answer["tiers"][0] in ("session", "personalised")
    assert answer["items"][0]["item_id"] == "lamb"


def test_the_export_deletes_a_version_out_of_service_for_model_ttl_days(cloud: Any) -> None:
    """On DynamoDB (moto): the retire transaction, the key chunks read back, the deletes."""
    from datetime import UTC, datetime

    from recs.contracts.keys import Entry
    from recs.stores.ports import ModelVersion, RecRow

    landed(cloud)
    registry, store = wiring.model_registry(), wiring.recommendation_store()
    long_ago = (datetime.now(UTC) - timedelta(days=45)).isoformat(timespec="seconds")
    old = "20261001-0123456789"
    registry.put_version(ModelVersion(old, "archived", long_ago, superseded_at=long_ago,
                                      counts={"rows_written": 2, "rows_expected": 2}))
    row = [Entry("tea", 1.0, None, "trending", None, None, None)]
    store.write([RecRow(keys.GLOBAL_TRENDING, old, row), RecRow("U#B", old, row)])
    store.write_row_keys(old, [keys.GLOBAL_TRENDING, "U#B"])

    result = cloud.run_batch(AS_OF)
    assert result["status"] == "SUCCEEDED" and result["output"]["retired"] == [old]
    rows = boto3.client("dynamodb").scan(TableName=resources.RECOMMENDATIONS.local_name)
    assert not [item for item in rows["Items"] if item["sk"]["S"] == old]
    assert registry.get_version(old).status == "expired"  # type: ignore[union-attr]
    status, answer = call(cloud, "admin", api_event("POST", f"/models/{old}/promote"))
    assert status == 409 and "expired" in json.dumps(answer)
