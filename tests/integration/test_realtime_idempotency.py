"""What only DynamoDB shows of the realtime store's event-id memory: its size in the item."""

from __future__ import annotations

import boto3
import pytest

from recs.stores.aws import DynamoRealtimeStore, DynamoServingReader
from recs.stores.ports import RECENT_LIMIT, SEEN_LIMIT
from tests.integration.conftest import MakeTable


@pytest.fixture
def tables(moto_aws: MakeTable) -> None:
    moto_aws("recs")
    moto_aws("realtime", sort_key=False)


def test_the_remembered_ids_are_short_digests_trimmed_like_the_lists(tables: None) -> None:
    store = DynamoRealtimeStore("realtime")
    long_id = "e" * 256
    for call in range(3 * SEEN_LIMIT // 10):
        store.record("U#u", [(f"i{call}.{k}", "view", call * 10 + k) for k in range(10)], [],
                     5000, recent_ids=[f"{long_id}{call}.{k}"[-256:] for k in range(10)])
    item = boto3.client("dynamodb").get_item(TableName="realtime",
                                             Key={"pk": {"S": "U#u"}})["Item"]
    seen = [value["S"] for value in item["seen"]["L"]]
    assert SEEN_LIMIT <= len(seen) <= SEEN_LIMIT + SEEN_LIMIT // 2
    assert {len(digest) for digest in seen} == {12}
    assert len(item["recent"]["L"]) <= RECENT_LIMIT + RECENT_LIMIT // 2
    # The reader sees the newest events, each once.
    _, shoppers, _ = DynamoServingReader("recs", "realtime").read([], None, ["U#u"])
    assert [r[2] for r in shoppers["U#u"].recent] == list(
        range(3 * SEEN_LIMIT - RECENT_LIMIT, 3 * SEEN_LIMIT))
