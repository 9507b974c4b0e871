"""Every store port in both of its implementations, so one behaviour suite holds them together.

Each port fixture is parametrized (through ``stores``) over ``memory`` (recs.stores.memory, the
fakes the unit tests and the serving benchmark trust) and ``aws`` (recs.stores.aws against moto,
with the tables, bucket and queue created from recs.contracts.resources as the CDK app and the
local cloud create them). A test that takes a port fixture runs once per implementation; where
the two disagree, the fake is no longer an honest stand-in for the cloud.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from recs.contracts import resources
from recs.stores.aws import (
    DynamoModelRegistry,
    DynamoRealtimeStore,
    DynamoRecommendationStore,
    DynamoServingReader,
    S3ObjectStore,
    SqsEventQueue,
)
from recs.stores.memory import (
    MemoryEventQueue,
    MemoryModelRegistry,
    MemoryObjectStore,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
from recs.stores.ports import (
    EventQueue,
    ModelRegistry,
    ObjectStore,
    RealtimeStore,
    RecommendationStore,
    ServingReader,
)
from recs_local.cloud import create_tables

REGION = "us-east-1"

Sent = Callable[[], list[str]]
"""Every body the queue has been sent so far, in no promised order (SQS keeps none)."""


@dataclass
class Stores:
    """One implementation of every port, wired to each other as a deployment wires them."""

    objects: ObjectStore
    queue: EventQueue
    sent: Sent
    recommendations: RecommendationStore
    registry: ModelRegistry
    realtime: RealtimeStore
    reader: ServingReader


def memory_stores() -> Stores:
    queue = MemoryEventQueue()
    recommendations = MemoryRecommendationStore()
    realtime = MemoryRealtimeStore()
    return Stores(
        objects=MemoryObjectStore(),
        queue=queue,
        sent=lambda: list(queue.messages),
        recommendations=recommendations,
        registry=MemoryModelRegistry(),
        realtime=realtime,
        reader=MemoryServingReader(recommendations, realtime),
    )


def create_resources() -> str:
    """The tables, bucket and queue of ``recs.contracts.resources`` in moto; the queue's URL."""
    create_tables()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=resources.LOCAL_BUCKET)
    url: str = boto3.client("sqs", region_name=REGION).create_queue(
        QueueName=resources.LOCAL_QUEUE)["QueueUrl"]
    return url


def sqs_receiver(url: str) -> Sent:
    """Reads what SQS holds, deleting what it read, and remembers it: like ``.messages``."""
    sqs = boto3.client("sqs", region_name=REGION)
    received: list[str] = []

    def sent() -> list[str]:
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not messages:
                return list(received)
            received.extend(m["Body"] for m in messages)
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(messages)])

    return sent


class DynamoLimits:
    """A DynamoDB client that refuses batches as DynamoDB does and moto does not.

    DynamoDB answers ``ValidationException`` to a BatchWriteItem of more than 25 requests and
    to a batch (write or get) naming one item twice; moto 5 lets both through (it enforces
    only BatchGetItem's 100 keys), so without this an adapter could pass here and fail in AWS.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def batch_write_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> Any:
        count = sum(len(requests) for requests in RequestItems.values())
        if count > 25:
            _refuse("BatchWriteItem", "Too many items requested for the BatchWriteItem call")
        for requests in RequestItems.values():
            _refuse_duplicates("BatchWriteItem", [
                next(iter(r.values())).get("Key") or _key_of(r["PutRequest"]["Item"])
                for r in requests])
        return self.client.batch_write_item(RequestItems=RequestItems, **kwargs)

    def batch_get_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> Any:
        for request in RequestItems.values():
            _refuse_duplicates("BatchGetItem", request["Keys"])
        return self.client.batch_get_item(RequestItems=RequestItems, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name in ("pk", "sk")}


def _refuse_duplicates(operation: str, keys: list[dict[str, Any]]) -> None:
    dumped = [json.dumps(key, sort_keys=True) for key in keys]
    if len(set(dumped)) != len(dumped):
        _refuse(operation, "Provided list of item keys contains duplicates")


def _refuse(operation: str, message: str) -> None:
    raise ClientError({"Error": {"Code": "ValidationException", "Message": message}},
                      operation)


def aws_stores(queue_url: str) -> Stores:
    recommendations = resources.RECOMMENDATIONS.local_name
    realtime = resources.REALTIME.local_name
    dynamodb = DynamoLimits(boto3.client("dynamodb", region_name=REGION))
    return Stores(
        objects=S3ObjectStore(resources.LOCAL_BUCKET),
        queue=SqsEventQueue(queue_url),
        sent=sqs_receiver(queue_url),
        recommendations=DynamoRecommendationStore(recommendations, dynamodb),
        registry=DynamoModelRegistry(resources.REGISTRY.local_name, dynamodb),
        realtime=DynamoRealtimeStore(realtime, dynamodb),
        reader=DynamoServingReader(recommendations, realtime, dynamodb),
    )


@pytest.fixture(params=["memory", "aws"])
def stores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    if request.param == "memory":
        yield memory_stores()
        return
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield aws_stores(create_resources())


@pytest.fixture
def object_store(stores: Stores) -> ObjectStore:
    return stores.objects


@pytest.fixture
def event_queue(stores: Stores) -> EventQueue:
    return stores.queue


@pytest.fixture
def sent(stores: Stores) -> Sent:
    return stores.sent


@pytest.fixture
def recommendation_store(stores: Stores) -> RecommendationStore:
    return stores.recommendations


@pytest.fixture
def model_registry(stores: Stores) -> ModelRegistry:
    return stores.registry


@pytest.fixture
def realtime_store(stores: Stores) -> RealtimeStore:
    return stores.realtime


@pytest.fixture
def serving_reader(stores: Stores) -> ServingReader:
    return stores.reader
