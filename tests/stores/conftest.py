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
from typing import Any, Protocol

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from recs.contracts import resources
from recs.contracts.keys import NEW_ARRIVALS_KEY, unavailable_key, unavailable_shard
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
    DYNAMODB_ITEM_BYTES,
    EventQueue,
    ModelRegistry,
    ObjectStore,
    RealtimeState,
    RealtimeStore,
    RecommendationStore,
    ServingReader,
)
from recs_local.cloud import create_tables

REGION = "us-east-1"

Sent = Callable[[], list[str]]
"""Every body the queue has been sent so far, in no promised order (SQS keeps none)."""


class Corrupt(Protocol):
    """Writes a row the product never writes, behind the store's back: what a bug in an older
    writer, a hand edit or a partial restore can leave for the read path to find."""

    def list_row(self, key: str, version: str, text: str) -> None:
        """A recommendations row whose ``items`` is ``text``."""

    def shopper_row(self, key: str) -> None:
        """A realtime shopper row whose recent events are not item, event and time."""

    def arrivals_row(self, text: str) -> None:
        """The new-arrivals row with ``items`` = ``text``."""

    def unavailable_row(self, shard: int) -> None:
        """An unavailable shard whose ``items`` is not a set of ids."""


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
    corrupt: Corrupt


class MemoryCorrupt:
    """The in-memory stores hold decoded rows: a corrupt row is what its text decodes to, or
    the text itself when it does not decode."""

    def __init__(self, recommendations: MemoryRecommendationStore,
                 realtime: MemoryRealtimeStore) -> None:
        self.recommendations = recommendations
        self.realtime = realtime

    def list_row(self, key: str, version: str, text: str) -> None:
        self.recommendations.rows[(key, version)] = text

    def shopper_row(self, key: str) -> None:
        self.realtime.shoppers[key] = RealtimeState(
            recent=[("sku-1", "view", "yesterday")], shown=[])  # type: ignore[list-item]

    def arrivals_row(self, text: str) -> None:
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        self.realtime.catalog.new_arrivals = value

    def unavailable_row(self, shard: int) -> None:
        """A row of the wrong type holds no string set: the shard's ids are lost."""
        unavailable = self.realtime.catalog.unavailable
        unavailable -= {item for item in unavailable if unavailable_shard(item) == shard}


class DynamoCorrupt:
    def __init__(self, client: Any) -> None:
        self.client = client

    def list_row(self, key: str, version: str, text: str) -> None:
        self.client.put_item(TableName=resources.RECOMMENDATIONS.local_name, Item={
            "pk": {"S": key}, "sk": {"S": version}, "items": {"S": text}})

    def shopper_row(self, key: str) -> None:
        self.client.put_item(TableName=resources.REALTIME.local_name, Item={
            "pk": {"S": key}, "recent": {"L": [{"S": "sku-1\tview\tyesterday"}]},
            "shown": {"L": []}})

    def arrivals_row(self, text: str) -> None:
        self.client.put_item(TableName=resources.REALTIME.local_name, Item={
            "pk": {"S": NEW_ARRIVALS_KEY}, "rev": {"N": "1"}, "items": {"S": text}})

    def unavailable_row(self, shard: int) -> None:
        self.client.put_item(TableName=resources.REALTIME.local_name, Item={
            "pk": {"S": unavailable_key(shard)}, "items": {"S": "sku-1,sku-2"}})


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
        corrupt=MemoryCorrupt(recommendations, realtime),
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
    """A DynamoDB client that refuses requests as DynamoDB does and moto does not.

    DynamoDB answers ``ValidationException`` to a BatchWriteItem of more than 25 requests, to
    a batch (write or get) naming one item twice, and to a write that leaves an item over
    400 KB; moto 5 lets all three through (it enforces only BatchGetItem's 100 keys), so
    without this an adapter could pass here and fail in AWS.
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
            for request in requests:
                if "PutRequest" in request:
                    _refuse_oversized("BatchWriteItem", request["PutRequest"]["Item"])
        return self.client.batch_write_item(RequestItems=RequestItems, **kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        _refuse_oversized("PutItem", kwargs["Item"])
        return self.client.put_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        """Applied, then undone if the item came out too large: DynamoDB computes the new
        item and refuses the write, which is the same seen from outside."""
        table, key = kwargs["TableName"], kwargs["Key"]
        before = self.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        result = self.client.update_item(**kwargs)
        after = self.client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        if item_bytes(after) > DYNAMODB_ITEM_BYTES:
            if before is None:
                self.client.delete_item(TableName=table, Key=key)
            else:
                self.client.put_item(TableName=table, Item=before)
            _refuse("UpdateItem", "Item size to update has exceeded the maximum allowed size")
        return result

    def batch_get_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> Any:
        for request in RequestItems.values():
            _refuse_duplicates("BatchGetItem", request["Keys"])
        return self.client.batch_get_item(RequestItems=RequestItems, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it against 400 KB: names and values, strings in
    UTF-8, a number about one byte per two digits, lists and maps 3 bytes plus 1 per
    element."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.strip("-").replace(".", "").strip("0")) + 1) // 2 + 1
    if kind == "SS":
        return sum(len(member.encode()) for member in data)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_bytes(v) for name, v in data.items())
    return 1  # BOOL, NULL


def _refuse_oversized(operation: str, item: dict[str, Any]) -> None:
    if item_bytes(item) > DYNAMODB_ITEM_BYTES:
        _refuse(operation, "Item size has exceeded the maximum allowed size")


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
        corrupt=DynamoCorrupt(dynamodb),
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


@pytest.fixture
def corrupt(stores: Stores) -> Corrupt:
    return stores.corrupt
