"""The read path under a DynamoDB brown-out and over corrupt rows: always 200, from the next tier.

The budget (docs/architecture.md): at most one short retry, then the fallback, so an answer
takes at most 300 ms of compute and waiting however the tables behave. A store that fails
counts as empty; a row that cannot be decoded counts as missing. Throttling is injected inside
moto (``tests.faults.injection``), so botocore sees the error code DynamoDB would send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from recs.contracts import resources
from tests.conftest import api_event
from tests.faults import injection
from tests.local_stack import LocalStack, local_stack
from tests.openapi_checks import check_body

BUDGET_S = 0.3
ROUTE = "/recommendations"


def timed(stack: LocalStack, path: str, query: dict[str, str]) -> tuple[float, int, Any]:
    """(seconds, status, body) of one call of the API function (no HTTP in the way)."""
    started = time.perf_counter()
    result = stack.cloud.invoke("api", api_event("GET", path, query))
    elapsed = time.perf_counter() - started
    return elapsed, int(result["statusCode"]), json.loads(result["body"])


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One stack for the module: the brown-outs end with their block, and each corrupt row
    is put back as it was after its test."""
    with local_stack() as running:
        yield running


@pytest.fixture(scope="module")
def spec(stack: LocalStack) -> dict[str, Any]:
    status, document = stack.request("GET", "/swagger?format=json")
    assert status == 200
    return dict(document)


def test_c_is_served_from_the_session_tier_when_the_tables_are_well(stack: LocalStack) -> None:
    """The baseline the brown-outs fall back from: C bought rice and milk yesterday, whose
    neighbour lamb leads the session tier (and C's nightly list)."""
    _, status, answer = timed(stack, ROUTE, {"user_id": "C"})
    assert status == 200
    assert (answer["items"][0]["item_id"], answer["items"][0]["tier"]) == ("lamb", "session")


def test_throttled_neighbours_answer_from_the_personalised_tier_within_budget(
        stack: LocalStack, spec: dict[str, Any]) -> None:
    timed(stack, ROUTE, {"user_id": "C"})  # warm: the live pointer is cached
    with injection.dynamodb("batch_get_item", injection.asks_for("I#")) as calls:
        elapsed, status, answer = timed(stack, ROUTE, {"user_id": "C"})
    assert status == 200
    check_body(spec, "GET", ROUTE, 200, answer)
    assert (answer["items"][0]["item_id"], answer["items"][0]["tier"]) == (
        "lamb", "personalised")
    assert sum(injection.asks_for("I#")(call) for call in calls) <= 2  # one retry at most
    assert elapsed <= BUDGET_S


def test_every_read_throttled_still_answers_200_within_budget(
        stack: LocalStack, spec: dict[str, Any]) -> None:
    timed(stack, ROUTE, {"user_id": "C"})
    with injection.dynamodb("batch_get_item") as calls, injection.dynamodb("get_item"), \
            injection.dynamodb("query"):
        elapsed, status, answer = timed(stack, ROUTE, {"user_id": "C"})
    assert status == 200
    check_body(spec, "GET", ROUTE, 200, answer)
    assert len(calls) <= 2
    assert elapsed <= BUDGET_S


def test_model_status_under_a_brown_out_answers_200_naming_the_error(
        stack: LocalStack, spec: dict[str, Any]) -> None:
    with injection.dynamodb("get_item"), injection.dynamodb("query"), \
            injection.dynamodb("batch_get_item"):
        _, status, answer = timed(stack, "/models/status", {})
    assert status == 200
    check_body(spec, "GET", "/models/status", 200, answer)
    assert answer["error"] and "botocore" not in answer["error"]


# --- corrupt rows -----------------------------------------------------------------------

@contextmanager
def corrupt(stack: LocalStack, table: str, pk: str, attribute: str, value: dict[str, Any],
            version: bool) -> Iterator[None]:
    """Overwrite one attribute of one stored row, as a bad write or a hand edit would; the
    row as it was comes back after the block."""
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": pk}, **({"sk": {"S": stack.version}} if version else {})}
    before = dynamodb.get_item(TableName=table, Key=key).get("Item")
    dynamodb.update_item(
        TableName=table, Key=key, UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute}, ExpressionAttributeValues={":v": value})
    try:
        yield
    finally:
        if before is None:
            dynamodb.delete_item(TableName=table, Key=key)
        else:
            dynamodb.put_item(TableName=table, Item=before)


LISTS = resources.RECOMMENDATIONS.local_name
REALTIME = resources.REALTIME.local_name
CORRUPTIONS: dict[str, tuple[str, str, str, dict[str, Any], bool, str]] = {
    # name: table, pk, attribute, value, keyed by version, the route it hurts
    "personalised list not JSON": (LISTS, "U#C", "items", {"S": "[[\"lamb\", 0.9"}, True,
                                   "/recommendations?user_id=C"),
    "personalised list not a list": (LISTS, "U#C", "items", {"S": '{"lamb": 1}'}, True,
                                     "/recommendations?user_id=C"),
    "personalised entries malformed": (LISTS, "U#C", "items", {"S": '[[1], "x", null]'}, True,
                                       "/recommendations?user_id=C"),
    "personalised list of another type": (LISTS, "U#C", "items", {"N": "7"}, True,
                                          "/recommendations?user_id=C"),
    "trending not JSON": (LISTS, "POP#global", "items", {"S": "{"}, True,
                          "/recommendations?user_id=C"),
    "neighbours not JSON": (LISTS, "I#rice", "items", {"S": "\u0000"}, True,
                            "/items/rice/similar"),
    "recent events malformed": (REALTIME, "U#C", "recent", {"L": [{"S": "no tabs"},
                                                                  {"N": "1"}]}, False,
                                "/recommendations?user_id=C"),
    "recent events of another type": (REALTIME, "U#C", "recent", {"S": "rice"}, False,
                                      "/recommendations?user_id=C"),
    "new arrivals not JSON": (REALTIME, "CATALOG#NEW", "items", {"S": "[["}, False,
                              "/recommendations?user_id=C"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_corrupt_row_degrades_to_the_fallback_with_200(
        stack: LocalStack, spec: dict[str, Any], name: str) -> None:
    table, pk, attribute, value, versioned, url = CORRUPTIONS[name]
    with corrupt(stack, table, pk, attribute, value, versioned):
        status, answer = stack.request("GET", url)
    assert status == 200, answer
    route = url.split("?")[0].replace("/rice/", "/{item_id}/")
    check_body(spec, "GET", route, 200, answer)
    assert answer["items"]  # another tier filled the list


def test_corrupt_trending_answers_200_with_an_empty_list(
        stack: LocalStack, spec: dict[str, Any]) -> None:
    """Trending has no tier below it: an empty list, still a 200 in the documented shape."""
    with corrupt(stack, LISTS, "POP#global", "items", {"S": "{"}, True):
        status, answer = stack.request("GET", "/recommendations/trending")
    assert status == 200
    check_body(spec, "GET", "/recommendations/trending", 200, answer)
    assert answer["items"] == []
