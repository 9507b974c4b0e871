"""The realtime store and the one-round-trip serving reader on moto: what only DynamoDB shows
(trimming in the table, round trips). Their shared behaviour is in tests/stores."""

from __future__ import annotations

import boto3
import pytest

from recs.stores.aws import (
    DynamoRealtimeStore,
    DynamoRecommendationStore,
    DynamoServingReader,
)
from recs.stores.ports import RECENT_LIMIT, RecRow
from tests.integration.conftest import REGION, MakeTable


@pytest.fixture
def tables(moto_aws: MakeTable) -> None:
    moto_aws("recs")
    moto_aws("realtime", sort_key=False)


class CountingClient:
    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.calls = 0

    def batch_get_item(self, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.client.batch_get_item(**kwargs)


def test_recent_events_append_and_stay_bounded(tables: None) -> None:
    store = DynamoRealtimeStore("realtime")
    for n in range(3 * RECENT_LIMIT):
        store.record("U#u", [(f"item{n}", "view", 1000 + n)], [f"shown{n}"], 5000)
    _, shoppers, _ = DynamoServingReader("recs", "realtime").read([], None, ["U#u"])
    recent = shoppers["U#u"].recent
    assert len(recent) == RECENT_LIMIT
    assert recent[-1] == (f"item{3 * RECENT_LIMIT - 1}", "view", 1000 + 3 * RECENT_LIMIT - 1)
    item = boto3.client("dynamodb").get_item(TableName="realtime", Key={"pk": {"S": "U#u"}})
    assert len(item["Item"]["recent"]["L"]) <= 2 * RECENT_LIMIT  # trimmed in DynamoDB too
    assert int(item["Item"]["expires_at"]["N"]) > 5


def test_lists_shopper_state_and_catalog_come_in_one_round_trip(tables: None) -> None:
    DynamoRecommendationStore("recs").write([
        RecRow("U#u", "v1", [["x", 1.0, "y", "view", "food", "X", "Y"]]),
        RecRow("POP#global", "v1", [["z", 2.0, None, "trending", "food", "Z", None]])])
    DynamoRealtimeStore("realtime").record("U#u", [("y", "cart", 7)], [], 5000)
    client = CountingClient()
    lists, shoppers, state = DynamoServingReader("recs", "realtime", client).read(
        ["U#u", "POP#global", "U#missing"], "v1", ["U#u", "S#none"], catalog=True)
    assert client.calls == 1
    assert set(lists) == {"U#u", "POP#global"}
    assert shoppers["U#u"].recent == [("y", "cart", 7)]
    assert state is not None and state.unavailable == set()
