"""Limits the cloud enforces before our code runs, answered the same way by the local server,
and errors that say what went wrong without the SDK's internals or a shopper's id."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from recs.api.errors import STORE_UNAVAILABLE, error_response
from recs.contracts.ids import log_id
from recs.exceptions import StateLimitExceeded, StoreError
from recs.intake.ingest import record_recent
from recs.stores.memory import MemoryRealtimeStore, MemoryRecommendationStore
from recs_local.server import (
    LAMBDA_PAYLOAD_BYTES,
    MAX_BODY_BYTES,
    event_bytes,
    make_server,
    proxy_event,
    serve_in_background,
)


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """The local server in front of a function that answers 200 and notes who it served."""
    invoked: list[str] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        invoked.append(function)
        return {"statusCode": 200, "body": "{}"}

    httpd = make_server("127.0.0.1", 0, invoke)
    serve_in_background(httpd)
    yield f"http://127.0.0.1:{httpd.server_address[1]}", invoked
    httpd.shutdown()
    httpd.server_close()


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url + "/events", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_body_over_lambda_s_6_mb_is_413_before_any_function_runs(
    server: tuple[str, list[str]],
) -> None:
    url, invoked = server
    status, answer = post(url, b"x" * (LAMBDA_PAYLOAD_BYTES + 1))  # under API Gateway's 10 MB
    assert status == 413 and "Lambda" in answer["message"] and "6,291,456" in answer["message"]
    # Binary bodies travel base64-encoded: 4.8 MB of them make a 6.4 MB event.
    status, _ = post(url, bytes(range(128, 256)) * (4_800_000 // 128))
    assert status == 413
    assert invoked == []
    assert post(url, b"x" * (5 * 1024 * 1024))[0] == 200  # a large body within the limit
    assert invoked == ["ingest"]


def test_a_body_over_api_gateway_s_10_mb_is_413(server: tuple[str, list[str]]) -> None:
    url, invoked = server
    status, answer = post(url, b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413 and "10 MB" in answer["message"] and invoked == []


def test_the_event_size_counts_the_whole_event_as_json() -> None:
    event = proxy_event("POST", "/events", {"content-type": "application/json"}, b"")
    empty = event_bytes(event)
    assert empty == len(json.dumps(event, separators=(",", ":")))
    body = "é" * 1000
    with_body = proxy_event("POST", "/events", {"content-type": "application/json"},
                            body.encode())
    assert event_bytes(with_body) - empty == 2000 + 2 - len("null")  # UTF-8, quoted


def test_a_store_failure_is_503_in_product_words_and_its_detail_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    detail = ("sqs send: An error occurred (AWS.SimpleQueueService.NonExistentQueue) when "
              "calling the SendMessageBatch operation: arn:aws:sqs:eu-west-1:123456789012:q")
    with caplog.at_level(logging.WARNING):
        response = error_response(StoreError(detail))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.body == {"message": STORE_UNAVAILABLE}
    assert "SendMessageBatch" not in STORE_UNAVAILABLE and "arn:" not in STORE_UNAVAILABLE
    assert detail in caplog.text


def test_a_full_state_is_413_naming_the_field() -> None:
    response = error_response(StateLimitExceeded("available", "the set is full"))
    assert response.status_code == 413
    assert response.body == {"message": "available: the set is full", "field": "available"}


class FailingRealtime(MemoryRealtimeStore):
    def record(self, key: str, *args: Any, **kwargs: Any) -> None:
        raise StoreError(f"realtime update {key}: throttled")


def test_a_skipped_realtime_update_is_logged_without_the_shopper_s_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = {"event_id": "e1", "user_id": "alice@example.com", "session_id": "sess-42",
             "item_id": "rice", "event_type": "view", "ts": 5}
    with caplog.at_level(logging.WARNING):
        record_recent(FailingRealtime(), [event], 5)  # type: ignore[list-item]
    assert caplog.records and "alice@example.com" not in caplog.text
    assert "sess-42" not in caplog.text


def test_an_unreadable_row_is_logged_once_under_a_hashed_shopper_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recommendations = MemoryRecommendationStore()
    recommendations.rows[("U#alice@example.com", "v1")] = "{truncated"
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert recommendations.get_many(["U#alice@example.com"], "v1") == {}
    lines = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert lines == [f"unreadable list row U#{log_id('alice@example.com')} treated as missing"]
