"""The operator console's rows in DynamoDB and the dead-letter queue's depth, on moto.

The DynamoDB store must answer what the in-memory one answers (the unit tests trust it):
counts that add up across writers, a span of days read in one Query with zeros where nothing
was counted, attribution replaced whole per day.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from recs.contracts import resources
from recs.contracts.ops import DayHealth, TierCounts
from recs.exceptions import StoreError
from recs.stores.dynamo_ops import DynamoOpsStore, SqsQueueDepth
from recs.stores.memory import MemoryOpsStore
from recs.stores.ports import OpsStore
from recs_local.cloud import create_tables

REGION = "us-east-1"
DAYS = ["2026-11-21", "2026-11-22", "2026-11-23"]
V1 = "20261120-aaaaaaaaaa"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        create_tables()
        yield


@pytest.fixture(params=["memory", "aws"])
def ops(request: pytest.FixtureRequest) -> OpsStore:
    if request.param == "memory":
        return MemoryOpsStore()
    request.getfixturevalue("aws")
    return DynamoOpsStore(resources.EXPERIMENTS.local_name,
                          boto3.client("dynamodb", region_name=REGION))


def test_health_counts_add_up_across_writers_and_days_read_back_in_order(
        ops: OpsStore) -> None:
    def lander() -> None:
        ops.add_health("2026-11-22", {"landed": 5, "quarantined": 1})

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(ops.add_health, "2026-11-22",
                                   {"accepted": 10, "rejected": 1, "duplicates": 0})
                       for _ in range(8)] + [pool.submit(lander) for _ in range(3)]:
            future.result()
    ops.add_health("2026-11-20", {"accepted": 99})  # outside the span asked
    ops.add_health("2026-11-24", {"accepted": 99})
    assert ops.health(DAYS) == [
        DayHealth("2026-11-21"),
        DayHealth("2026-11-22", accepted=80, rejected=8, landed=15, quarantined=3),
        DayHealth("2026-11-23")]


def test_attribution_is_replaced_whole_per_day(ops: OpsStore) -> None:
    first = [TierCounts(V1, "personalised", 10, 2, 1, 1), TierCounts("other", "other", 0, 1)]
    ops.put_attribution({"2026-11-21": first, "2026-11-22": []})
    ops.put_attribution({"2026-11-22": [TierCounts(V1, "session", 4, 1)]})
    assert ops.attribution(DAYS) == {"2026-11-21": first,
                                     "2026-11-22": [TierCounts(V1, "session", 4, 1)]}
    assert ops.attribution(["2026-11-23"]) == {}


def test_many_days_of_attribution_in_batches(ops: OpsStore) -> None:
    days = [f"2026-10-{day:02d}" for day in range(1, 31)]  # more than one BatchWriteItem
    ops.put_attribution({day: [TierCounts(V1, "trending", n)] for n, day in enumerate(days)})
    found = ops.attribution(days)
    assert [found[day][0].impressions for day in days] == list(range(30))


def test_a_failing_table_is_a_store_error(aws: None) -> None:
    store = DynamoOpsStore("no-such-table", boto3.client("dynamodb", region_name=REGION))
    with pytest.raises(StoreError):
        store.add_health("2026-11-22", {"accepted": 1})
    with pytest.raises(StoreError):
        store.health(DAYS)


def test_the_dead_letter_depth_counts_visible_and_in_flight_messages(aws: None) -> None:
    sqs: Any = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=resources.LOCAL_DLQ)["QueueUrl"]
    depth = SqsQueueDepth(url, sqs)
    assert depth.depth() == 0
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"poison {n}")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert depth.depth() == 3
    with pytest.raises(StoreError):
        SqsQueueDepth(url.replace(resources.LOCAL_DLQ, "gone"), sqs).depth()
