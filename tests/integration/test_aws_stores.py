"""The AWS adapters against moto, and against the limits moto does not enforce.

What the adapters share with the in-memory stores is tested on both in
tests/stores/test_port_behaviour.py; here is what only DynamoDB's adapter does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from recs.exceptions import StoreError
from recs.stores.aws import DynamoRecommendationStore
from recs.stores.ports import RecRow
from tests.integration.conftest import REGION, MakeTable


@pytest.fixture
def aws(moto_aws: MakeTable) -> None:
    moto_aws("recs")


class CountingClient:
    """Wraps a boto3 client, records batch sizes and fails the first N writes partially."""

    def __init__(self, client: Any, unprocessed_rounds: int = 0) -> None:
        self.client = client
        self.batch_sizes: list[int] = []
        self.unprocessed_rounds = unprocessed_rounds

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, requests), = RequestItems.items()
        assert len(requests) <= 25, "DynamoDB refuses more than 25 writes per batch"
        self.batch_sizes.append(len(requests))
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            self.client.batch_write_item(RequestItems={table: requests[:1]})
            return {"UnprocessedItems": {table: requests[1:]}}
        result: dict[str, Any] = self.client.batch_write_item(RequestItems=RequestItems)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_rows_are_written_in_batches_of_at_most_25_and_read_back(aws: None) -> None:
    client = CountingClient(boto3.client("dynamodb", region_name=REGION))
    store = DynamoRecommendationStore("recs", client)
    rows = [RecRow(f"U#{n}", "v1", [["a", 1.0, "b", "view", "food", "A", "B"]], 1)
            for n in range(130)]
    assert store.write(rows) == 130
    assert max(client.batch_sizes) == 25 and sum(client.batch_sizes) == 130
    found = store.get_many([f"U#{n}" for n in range(130)] + ["U#missing"], "v1")
    assert len(found) == 130 and found["U#7"] == [["a", 1.0, "b", "view", "food", "A", "B"]]
    assert store.get_many(["U#7"], "v2") == {}


def test_unprocessed_items_are_retried_until_written(aws: None) -> None:
    client = CountingClient(boto3.client("dynamodb", region_name=REGION), unprocessed_rounds=2)
    store = DynamoRecommendationStore("recs", client)
    assert store.write([RecRow(f"I#{n}", "v1", [], 1) for n in range(10)]) == 10
    assert len(store.get_many([f"I#{n}" for n in range(10)], "v1")) == 10


class SlowClient:
    """A DynamoDB that takes 5 ms a call: records how many calls overlap, and can fail one."""

    def __init__(self, client: Any, fail_call: int | None = None) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.calls = self.in_flight = self.most_in_flight = 0
        self.fail_call = fail_call

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            call = self.calls
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.005)
            if call == self.fail_call:
                raise ClientError({"Error": {"Code": "ValidationException", "Message": "no"}},
                                  "BatchWriteItem")
            result: dict[str, Any] = self.client.batch_write_item(RequestItems=RequestItems)
            return result
        finally:
            with self.lock:
                self.in_flight -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_the_batch_store_writes_several_batches_at_once_and_loses_none(aws: None) -> None:
    client = SlowClient(boto3.client("dynamodb", region_name=REGION))
    store = DynamoRecommendationStore("recs", client, workers=4)
    built = 0

    def rows() -> Iterator[RecRow]:
        nonlocal built
        for n in range(1_000):
            built += 1
            # Batches are built at most 2 x workers ahead of the ones written (memory).
            assert built <= 25 * (client.calls + 2 * 4 + 1)
            yield RecRow(f"U#{n}", "v1", [["a", float(n), "b", "view", "food", "A", "B"]], 1)

    assert store.write(rows()) == 1_000
    assert client.calls == 40 and 1 < client.most_in_flight <= 4
    found = store.get_many([f"U#{n}" for n in range(1_000)], "v1")
    assert len(found) == 1_000 and found["U#999"] == [["a", 999.0, "b", "view", "food", "A", "B"]]


def test_a_failed_concurrent_batch_fails_the_write(aws: None) -> None:
    client = SlowClient(boto3.client("dynamodb", region_name=REGION), fail_call=5)
    store = DynamoRecommendationStore("recs", client, workers=4)
    with pytest.raises(StoreError, match="ValidationException"):
        store.write(RecRow(f"U#{n}", "v1", [], 1) for n in range(1_000))
    assert client.calls < 40  # it stopped submitting


def test_a_missing_table_is_a_store_error(aws: None) -> None:
    with pytest.raises(StoreError):
        DynamoRecommendationStore("no-such-table").get_many(["U#1"], "v1")
