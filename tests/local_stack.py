"""The local stack for tests that talk HTTP: moto in-process, the real handlers, a trained model.

``local_stack()`` is what ``make demo`` serves, made fast enough for a test module: moto's
in-process mock instead of its server, a seven-event shop (A and C buy rice and milk, A also
lamb; B views tea and coffee) from yesterday, the nightly state machine run on it, and
``recs_local.server`` in front of the handlers on a free loopback port with an API key.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow.parquet as pq

from recs.contracts import layout, resources
from recs_local.cloud import LocalCloud, in_process
from recs_local.demo import ingest_all, put_catalog
from recs_local.server import make_server, serve_in_background
from tests.conftest import event

API_KEY = "local-stack-key"
SHOPPERS = ("A", "B", "C")


def yesterdays_shop(now: datetime) -> list[dict[str, Any]]:
    """rice_milk_lamb's events, a day before ``now`` (inside the realtime horizon)."""
    t = (now - timedelta(days=1)).replace(microsecond=0)
    return [
        event("A", "rice", at=t), event("A", "milk", at=t + timedelta(minutes=1)),
        event("A", "lamb", at=t + timedelta(minutes=2)),
        event("C", "rice", at=t + timedelta(minutes=3)),
        event("C", "milk", at=t + timedelta(minutes=4)),
        event("B", "tea", "view", at=t + timedelta(minutes=5)),
        event("B", "coffee", "view", at=t + timedelta(minutes=6)),
    ]


CATALOG = [
    {"item_id": "rice", "category": "food/rice", "title": "Basmati rice", "price": 3.5},
    {"item_id": "milk", "category": "food/dairy", "title": "Milk", "price": 1.2},
    {"item_id": "lamb", "category": "food/meat", "title": "Lamb", "price": 9.0},
    {"item_id": "tea", "category": "drinks", "title": "Tea", "price": 2.0},
    {"item_id": "coffee", "category": "drinks", "title": "Coffee", "price": 4.0},
]


@dataclass
class LocalStack:
    """A running local stack: the cloud (for landing and batches) and the HTTP API."""

    cloud: LocalCloud
    base_url: str
    as_of: str  # the day the seed model was trained as of (tomorrow, so the window holds it)
    version: str  # the live model's version after seeding

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                key: str | None = API_KEY) -> tuple[int, Any]:
        """(status, decoded JSON body or None) of one HTTP request to the local server."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        headers = {"content-type": "application/json"}
        if key:
            headers["x-api-key"] = key
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        return status, (json.loads(text) if text else None)

    def run_batch(self, as_of: str | None = None) -> dict[str, Any]:
        """The nightly state machine on what has landed; its status, output, error."""
        return self.cloud.run_batch(as_of or self.as_of)

    # -- looking inside, as an operator would -------------------------------------------------
    def keys(self, prefix: str = "") -> list[str]:
        """Every object key of the data bucket under ``prefix``."""
        pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
            Bucket=resources.LOCAL_BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def get(self, key: str) -> bytes:
        body = boto3.client("s3").get_object(Bucket=resources.LOCAL_BUCKET, Key=key)["Body"]
        data: bytes = body.read()
        return data

    def put(self, key: str, data: bytes) -> None:
        boto3.client("s3").put_object(Bucket=resources.LOCAL_BUCKET, Key=key, Body=data)

    def landed_event_ids(self) -> list[str]:
        """The ``event_id`` of every row of every landed event file (a repeat shows twice)."""
        ids: list[str] = []
        for key in self.keys(layout.EVENTS):
            if layout.event_file_date(key):
                table = pq.read_table(io.BytesIO(self.get(key)), columns=["event_id"])
                ids += table.column("event_id").to_pylist()
        return ids

    def queued(self, url: str) -> int:
        """Messages in a queue, visible or in flight."""
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[str]:
        """The bodies of the messages in the dead-letter queue (left there)."""
        sqs = boto3.client("sqs")
        bodies: dict[str, str] = {}
        for _ in range(10):
            for message in sqs.receive_message(QueueUrl=self.cloud.dlq_url,
                                               MaxNumberOfMessages=10,
                                               VisibilityTimeout=0).get("Messages", []):
                bodies[message["MessageId"]] = message["Body"]
        return list(bodies.values())


@contextmanager
def local_stack() -> Iterator[LocalStack]:
    """Seed, train and serve; everything stops when the block ends."""
    now = datetime.now(UTC)
    as_of = (now + timedelta(days=1)).date().isoformat()
    with in_process() as cloud:
        put_catalog(cloud, CATALOG)
        ingest_all(cloud, yesterdays_shop(now))
        cloud.pump_queue()
        result = cloud.run_batch(as_of)
        if result["status"] != "SUCCEEDED" or not result["output"].get("promoted"):
            raise RuntimeError(f"the seed batch did not promote a model: {result}")
        server = make_server("127.0.0.1", 0, cloud.invoke, api_key=API_KEY)
        serve_in_background(server)
        try:
            yield LocalStack(cloud, f"http://127.0.0.1:{server.server_address[1]}", as_of,
                             result["output"]["version"])
        finally:
            server.shutdown()
            server.server_close()
