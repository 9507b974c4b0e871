"""Events in, nightly batch on the real state machine, recommendations out: all on moto."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pyarrow.parquet as pq

from recs.contracts import layout, resources
from tests.conftest import api_event, call, load_event


def ingest_and_train(cloud: Any, event_file: str = "ingest_post_events.json") -> dict[str, Any]:
    status, answer = call(cloud, "ingest", load_event(event_file))
    assert status == 200, answer
    assert cloud.pump_queue() >= 1
    result = cloud.run_batch(load_event("batch_start.json")["as_of"])
    assert result["status"] == "SUCCEEDED", result
    output: dict[str, Any] = result["output"]
    return output


def test_rice_milk_lamb_known_answer(cloud: Any) -> None:
    output = ingest_and_train(cloud)
    assert output["promoted"] is True

    status, answer = call(cloud, "api", load_event("api_get_recommendations.json"))
    assert status == 200
    assert answer["items"][0]["item_id"] == "lamb"
    assert answer["items"][0]["reason"] in ("Because you bought rice", "Because you bought milk")
    assert answer["tiers"][0] in ("session", "personalised")
    assert answer["model_version"] == output["version"]

    status, similar = call(cloud, "api", load_event("api_get_similar.json"))
    assert status == 200
    assert "milk" in [item["item_id"] for item in similar["items"]]
    assert "rice" not in [item["item_id"] for item in similar["items"]]


def test_events_land_as_hive_partitioned_zstd_parquet(cloud: Any) -> None:
    ingest_and_train(cloud)
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET,
                                                  Prefix="events/")["Contents"]]
    assert keys and all(k.startswith("events/dt=2026-11-20/") for k in keys)
    body = s3.get_object(Bucket=resources.LOCAL_BUCKET, Key=keys[0])["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 7


def test_three_events_one_bad(cloud: Any) -> None:
    status, answer = call(cloud, "ingest", load_event("ingest_post_events_one_bad.json"))
    assert status == 207
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["errors"][0]["index"] == 1 and answer["errors"][0]["field"] == "event_type"


def test_an_unknown_user_gets_200_with_trending(cloud: Any) -> None:
    ingest_and_train(cloud)
    status, answer = call(cloud, "api", api_event("GET", "/recommendations",
                                                  {"user_id": "stranger"}))
    assert status == 200
    assert answer["tiers"] == ["trending"] and answer["items"]
    assert all(item["reason"] == "Trending now" for item in answer["items"])


def test_before_any_model_every_route_answers_200(cloud: Any) -> None:
    for name in ("api_get_recommendations.json", "api_get_similar.json",
                 "api_get_trending.json", "api_get_model_status.json"):
        status, answer = call(cloud, "api", load_event(name))
        assert status == 200, (name, answer)
    assert call(cloud, "api", load_event("api_get_model_status.json"))[1]["live_version"] is None


def test_bad_parameters_unknown_routes_and_wrong_methods(cloud: Any) -> None:
    status, answer = call(cloud, "api", api_event("GET", "/recommendations",
                                                  {"user_id": "A", "num_items": "0"}))
    assert status == 400 and answer["errors"][0]["field"] == "num_items"
    assert call(cloud, "api", api_event("GET", "/nowhere"))[0] == 404
    status, answer = call(cloud, "api", api_event("POST", "/recommendations"))
    assert status == 405 and answer["allowed"] == ["GET"]
    assert call(cloud, "ingest", api_event("GET", "/events"))[0] == 405
    status, answer = call(cloud, "ingest", api_event("POST", "/events", body=b"{oops"))
    assert status == 400 and answer["field"] == "body"


def test_rerunning_the_same_day_gives_the_same_version(cloud: Any) -> None:
    first = ingest_and_train(cloud)
    again = cloud.run_batch(load_event("batch_start.json")["as_of"])
    assert again["status"] == "SUCCEEDED"
    assert again["output"]["version"] == first["version"]
    assert again["output"]["counts"] == first["counts"]
    assert again["output"]["promoted"] is True


def test_a_failed_batch_leaves_the_live_model_serving(cloud: Any) -> None:
    first = ingest_and_train(cloud)
    failed = cloud.run_batch("not-a-date")
    assert failed["status"] == "FAILED" and failed["error"] == "BatchFailed"
    _status, answer = call(cloud, "api", load_event("api_get_model_status.json"))
    assert answer["live_version"] == first["version"]
    assert call(cloud, "api", load_event("api_get_recommendations.json"))[1]["items"][0][
        "item_id"] == "lamb"


def test_the_lander_reports_only_the_malformed_record(cloud: Any) -> None:
    response = cloud.invoke("lander", load_event("lander_sqs_batch.json"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    keys = boto3.client("s3").list_objects_v2(Bucket=resources.LOCAL_BUCKET,
                                              Prefix="events/dt=2026-11-20/")["KeyCount"]
    assert keys == 1


def test_an_admin_can_roll_back_to_an_earlier_version(cloud: Any) -> None:
    first = ingest_and_train(cloud)
    extra = [{**e, "event_id": e["event_id"] + "-2", "timestamp": "2026-11-21T10:00:00Z"}
             for e in load_event_body("ingest_post_events.json")]
    assert call(cloud, "ingest", api_event("POST", "/events", body={"events": extra}))[0] == 200
    cloud.pump_queue()
    second = cloud.run_batch("2026-11-22")["output"]
    assert second["version"] != first["version"] and second["promoted"] is True

    request = load_event("admin_post_promote.json")
    request["path"] = request["path"].replace("20261121-0000000000", first["version"])
    status, answer = call(cloud, "admin", request)
    assert status == 200 and answer["previous_version"] == second["version"]
    assert call(cloud, "api", load_event("api_get_model_status.json"))[1][
        "live_version"] == first["version"]
    status, answer = call(cloud, "admin", api_event("POST", "/models/nope/promote"))
    assert status == 404


def load_event_body(name: str) -> list[dict[str, Any]]:
    import json

    events: list[dict[str, Any]] = json.loads(load_event(name)["body"])["events"]
    return events


def test_the_window_is_listed_by_its_event_files_not_copied(cloud: Any) -> None:
    output = ingest_and_train(cloud)
    s3 = boto3.client("s3")

    def keys(prefix: str) -> list[str]:
        found = s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET, Prefix=prefix)
        return sorted(o["Key"] for o in found.get("Contents", []))

    listing = json.loads(s3.get_object(Bucket=resources.LOCAL_BUCKET,
                                       Key=output["window_key"])["Body"].read())
    landed = keys(layout.EVENTS)
    assert listing["event_files"] == landed and len(landed) == output["counts"]["partitions"]
    assert sum(pq.read_metadata(io.BytesIO(s3.get_object(
        Bucket=resources.LOCAL_BUCKET, Key=key)["Body"].read())).num_rows
        for key in landed) == output["counts"]["events"] == 7
    # Under the version: the listing, the sums and the catalog; no copy of the events.
    version = output["version"]
    assert keys(layout.interactions_prefix(version)) == sorted(
        [layout.window_files(version), layout.interactions(version),
         layout.catalog_snapshot(version)])
