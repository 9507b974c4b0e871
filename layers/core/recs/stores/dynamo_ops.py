"""The operator console's rows in DynamoDB, and the dead-letter queue's depth in SQS.

The rows (``recs.contracts.keys`` "operations rows") live in the experiments table: ingest
already updates it and the admin function already queries it, so the health counters cost
ingest no new grant, and one ``Query`` per route reads a span of days. A health count is one
``UpdateItem`` with ``ADD`` (atomic, so concurrent functions never lose each other's counts);
a night's attribution is ``BatchWriteItem`` puts, the call the attribution step already makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from recs.contracts.keys import OPS_ATTRIBUTION, OPS_DAY_PREFIX, OPS_HEALTH, ops_day_key
from recs.contracts.ops import HEALTH_COUNTS, DayHealth, TierCounts
from recs.exceptions import StoreError
from recs.stores.aws import QUEUE_CONFIG, REQUEST_CONFIG

_WRITE_BATCH = 25
_WRITE_ATTEMPTS = 8


class DynamoOpsStore:
    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self.client = client or boto3.client("dynamodb", config=REQUEST_CONFIG)

    def add_health(self, day: str, counts: Mapping[str, int]) -> None:
        unknown = set(counts) - set(HEALTH_COUNTS)
        if unknown:
            raise ValueError(f"not health counts: {sorted(unknown)}")
        names = sorted(name for name, count in counts.items() if count)
        if not names:
            return
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": OPS_HEALTH}, "sk": {"S": ops_day_key(day)}},
                UpdateExpression="ADD " + ", ".join(f"#{n} :{n}" for n in names),
                ExpressionAttributeNames={f"#{n}": n for n in names},
                ExpressionAttributeValues={f":{n}": {"N": str(int(counts[n]))} for n in names})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"health count: {exc}") from exc

    def health(self, days: Sequence[str]) -> list[DayHealth]:
        found = {}
        for item in self._query(OPS_HEALTH, days):
            counts = {name: int(item[name]["N"]) for name in HEALTH_COUNTS if name in item}
            found[item["sk"]["S"].removeprefix(OPS_DAY_PREFIX)] = counts
        return [DayHealth(day, **found.get(day, {})) for day in days]

    def put_attribution(self, days: Mapping[str, Sequence[TierCounts]]) -> None:
        items = [{"PutRequest": {"Item": {
            "pk": {"S": OPS_ATTRIBUTION}, "sk": {"S": ops_day_key(day)},
            "cells": {"S": json.dumps([cell.row() for cell in cells])}}}}
            for day, cells in sorted(days.items())]
        try:
            for start in range(0, len(items), _WRITE_BATCH):
                pending: dict[str, Any] = {self.table: items[start:start + _WRITE_BATCH]}
                for _ in range(_WRITE_ATTEMPTS):
                    pending = self.client.batch_write_item(RequestItems=pending).get(
                        "UnprocessedItems", {})
                    if not pending:
                        break
                else:
                    raise StoreError("attribution by tier: writes left unprocessed")
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"attribution by tier: {exc}") from exc

    def attribution(self, days: Sequence[str]) -> dict[str, list[TierCounts]]:
        found: dict[str, list[TierCounts]] = {}
        for item in self._query(OPS_ATTRIBUTION, days):
            try:
                cells = [TierCounts.from_row(row) for row in json.loads(item["cells"]["S"])]
            except (KeyError, TypeError, ValueError):
                continue  # a row this code cannot read: the next night writes it again
            found[item["sk"]["S"].removeprefix(OPS_DAY_PREFIX)] = cells
        return found

    def _query(self, partition: str, days: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The partition's rows from the first day asked to the last, in one Query."""
        if not days:
            return
        try:
            for page in self.client.get_paginator("query").paginate(
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
                    ExpressionAttributeValues={":pk": {"S": partition},
                                               ":first": {"S": ops_day_key(min(days))},
                                               ":last": {"S": ops_day_key(max(days))}}):
                yield from page.get("Items", [])
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"operations query {partition}: {exc}") from exc


class SqsQueueDepth:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", config=QUEUE_CONFIG)

    def depth(self) -> int:
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        try:
            attributes = self.client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=list(names))["Attributes"]
        except (ClientError, BotoCoreError, KeyError) as exc:
            raise StoreError(f"queue depth: {exc}") from exc
        return sum(int(attributes.get(name, 0)) for name in names)
