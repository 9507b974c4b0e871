"""The experiments table in DynamoDB: definitions, each unit's live totals, each variant's sums.

The keys are ``recs.contracts.keys``' "experiments table". Counting an outcome is two
writes: the unit's row first (one conditional UpdateItem that also remembers the event id,
so a redelivery changes nothing), then the variant's shard of sums by what that write
returned, so ``add_outcome`` is applied to the unit's true totals however many functions
count at once. Kept apart from ``recs.stores.aws`` because only the experiment paths need it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from recs.contracts.experiments import (
    Experiment,
    Outcome,
    VariantCounts,
    add_outcome,
    combine,
)
from recs.contracts.keys import (
    EXACT_DAY_PREFIX,
    EXACT_TOTAL,
    EXPERIMENT_PARTITION,
    EXPERIMENT_SHARDS,
    experiment_counts_key,
    experiment_exact_key,
    experiment_shard,
    experiment_unit_sort_key,
    experiment_units_key,
)
from recs.exceptions import Conflict, StoreError
from recs.stores.ports import UNIT_EVENT_IDS, ExactCounts, UnitTotals

logger = logging.getLogger(__name__)

_OUTCOME_FIELDS = ("served", "impressions", "clicks", "carts", "purchases", "revenue")
_COUNT_FIELDS = tuple(VariantCounts.__dataclass_fields__)
_WRITE_BATCH = 25


def _number(value: float) -> dict[str, str]:
    """A DynamoDB number written out in full: no exponent, whatever the float."""
    return {"N": format(Decimal(repr(float(value))), "f")}


def _outcome(item: dict[str, Any]) -> Outcome:
    def number(name: str) -> Any:
        value = Decimal(item[name]["N"]) if name in item else 0
        return float(value) if name == "revenue" else int(value)
    return Outcome(**{name: number(name) for name in _OUTCOME_FIELDS})


class DynamoExperimentStore:
    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self.client = client or boto3.client("dynamodb")

    # -- definitions ------------------------------------------------------------------------
    def create(self, experiment: Experiment) -> None:
        try:
            self.client.put_item(TableName=self.table, Item=self._definition(experiment),
                                 ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"experiment {experiment['id']} exists") from exc
            raise StoreError(f"experiment create: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"experiment create: {exc}") from exc

    def save(self, experiment: Experiment) -> None:
        try:
            self.client.put_item(TableName=self.table, Item=self._definition(experiment))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"experiment save: {exc}") from exc

    def get(self, experiment_id: str) -> Experiment | None:
        try:
            found = self.client.get_item(
                TableName=self.table, ConsistentRead=True,
                Key={"pk": {"S": EXPERIMENT_PARTITION}, "sk": {"S": experiment_id}})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"experiment get: {exc}") from exc
        item = found.get("Item")
        return cast(Experiment, json.loads(item["body"]["S"])) if item else None

    def list(self) -> list[Experiment]:
        return [cast(Experiment, json.loads(item["body"]["S"]))
                for item in self._query(EXPERIMENT_PARTITION)]

    @staticmethod
    def _definition(experiment: Experiment) -> dict[str, Any]:
        return {"pk": {"S": EXPERIMENT_PARTITION}, "sk": {"S": experiment["id"]},
                "status": {"S": experiment["status"]},
                "body": {"S": json.dumps(experiment, sort_keys=True)}}

    # -- live counts ------------------------------------------------------------------------
    def record(self, experiment_id: str, variant: int, unit: str, outcome: Outcome,
               now_ms: int, event_id: str | None = None) -> bool:
        shard = experiment_shard(unit)
        key = {"pk": {"S": experiment_units_key(experiment_id, shard)},
               "sk": {"S": experiment_unit_sort_key(variant, unit)}}
        adds = [f"{name} :{name}" for name in _OUTCOME_FIELDS]
        values: dict[str, Any] = {f":{name}": _number(getattr(outcome, name))
                                  for name in _OUTCOME_FIELDS}
        values[":now"] = {"N": str(now_ms)}
        update = f"ADD {', '.join(adds)} SET first_ms = if_not_exists(first_ms, :now)"
        request: dict[str, Any] = {"TableName": self.table, "Key": key,
                                   "ReturnValues": "ALL_OLD"}
        if event_id is not None:
            update += ", ids = list_append(if_not_exists(ids, :none), :id)"
            values.update({":none": {"L": []}, ":id": {"L": [{"S": event_id}]},
                           ":event": {"S": event_id}, ":max": {"N": str(UNIT_EVENT_IDS)}})
            request["ConditionExpression"] = (
                "attribute_not_exists(ids) OR (NOT contains(ids, :event) AND size(ids) < :max)")
        request.update(UpdateExpression=update, ExpressionAttributeValues=values)
        try:
            old = self.client.update_item(**request).get("Attributes", {})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise StoreError(f"experiment count: {exc}") from exc
            if self._counted(key, cast(str, event_id)):
                return False
            # The unit's memory of event ids is full: count without remembering this one.
            return self.record(experiment_id, variant, unit, outcome, now_ms)
        except BotoCoreError as exc:
            raise StoreError(f"experiment count: {exc}") from exc
        before = _outcome(old) if "first_ms" in old else None
        after = combine(before, outcome) if before else outcome
        delta = add_outcome(VariantCounts(), before, after)
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": experiment_counts_key(experiment_id)},
                     "sk": {"S": f"{variant}#{shard}"}},
                UpdateExpression="ADD " + ", ".join(f"{name} :{name}" for name in _COUNT_FIELDS),
                ExpressionAttributeValues={f":{name}": _number(getattr(delta, name))
                                           for name in _COUNT_FIELDS})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"experiment sums: {exc}") from exc
        return True

    def _counted(self, key: dict[str, Any], event_id: str) -> bool:
        try:
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True,
                                        ProjectionExpression="ids").get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"experiment count: {exc}") from exc
        return {"S": event_id} in item.get("ids", {}).get("L", [])

    def live_counts(self, experiment_id: str) -> dict[int, VariantCounts]:
        counts: dict[int, VariantCounts] = {}
        for item in self._query(experiment_counts_key(experiment_id)):
            variant = int(item["sk"]["S"].split("#", 1)[0])
            shard = VariantCounts.from_dict({name: Decimal(item[name]["N"])
                                             for name in _COUNT_FIELDS if name in item})
            counts[variant] = counts.get(variant, VariantCounts()) + shard
        return counts

    def units(self, experiment_id: str) -> Iterator[UnitTotals]:
        for shard in range(EXPERIMENT_SHARDS):
            for item in self._query(experiment_units_key(experiment_id, shard)):
                variant, unit = item["sk"]["S"].split("#", 1)
                yield UnitTotals(int(variant), unit, _outcome(item),
                                 int(item["first_ms"]["N"]))

    # -- the nightly recount ----------------------------------------------------------------
    def put_exact(self, experiment_id: str, counts: ExactCounts) -> None:
        pk = {"S": experiment_exact_key(experiment_id)}
        rows = [(EXACT_TOTAL, counts.totals)] + [
            (EXACT_DAY_PREFIX + day, per_variant) for day, per_variant in counts.days.items()]
        items = [{"PutRequest": {"Item": {
            "pk": pk, "sk": {"S": sort_key}, "as_of": {"S": counts.as_of},
            "body": {"S": json.dumps({str(v): c.to_dict() for v, c in per_variant.items()})},
        }}} for sort_key, per_variant in rows]
        try:
            for start in range(0, len(items), _WRITE_BATCH):
                pending: dict[str, Any] = {self.table: items[start:start + _WRITE_BATCH]}
                for _ in range(8):
                    left = self.client.batch_write_item(RequestItems=pending).get(
                        "UnprocessedItems", {})
                    if not left:
                        break
                    pending = left
                else:
                    raise StoreError("experiment recount: writes left unprocessed")
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"experiment recount: {exc}") from exc

    def exact(self, experiment_id: str) -> ExactCounts | None:
        totals: dict[int, VariantCounts] | None = None
        days: dict[str, dict[int, VariantCounts]] = {}
        as_of = ""
        for item in self._query(experiment_exact_key(experiment_id)):
            body = json.loads(item["body"]["S"])
            per_variant = {int(v): VariantCounts.from_dict(c) for v, c in body.items()}
            sort_key = item["sk"]["S"]
            if sort_key == EXACT_TOTAL:
                totals, as_of = per_variant, item["as_of"]["S"]
            else:
                days[sort_key.removeprefix(EXACT_DAY_PREFIX)] = per_variant
        return None if totals is None else ExactCounts(as_of, totals, dict(sorted(days.items())))

    def _query(self, partition: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client.get_paginator("query").paginate(
                    TableName=self.table, KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": partition}}):
                yield from page.get("Items", [])
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"experiments query {partition.split('#')[0]}: {exc}") from exc
