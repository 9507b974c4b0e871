"""The read path's latency budget: in a DynamoDB brown-out (throttling, keys left unprocessed,
slow or stalled answers) a recommendation request waits at most ``RECS_READ_BUDGET_MS``
(300 ms) for its stores, retries at most once, and answers 200 from the tiers it could read.

The faults are injected on moto's client, call by call, and their latency is simulated on a
fake clock the request's deadline reads (every call takes 5 ms, a slow one longer, a backoff
its 20 ms): the retry decisions are then exact however busy the machine is. The stalled table
is a real socket that never answers, timed by the wall clock: botocore's own timeouts
(``recs.stores.aws.read_path_config``) are what bounds the wait there.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from recs.contracts import resources
from recs.contracts.keys import Entry
from recs.serving.service import RecommendationList, RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.aws import DynamoRealtimeStore, DynamoRecommendationStore, DynamoServingReader
from recs.stores.memory import MemoryModelRegistry
from recs.stores.ports import ModelVersion, RecRow
from recs_local.cloud import LambdaContext, create_tables
from tests.conftest import api_event
from tests.integration.conftest import REGION, MakeTable

ROOT = Path(__file__).resolve().parents[2]
V = "20261121-abc"
BUDGET_S = 0.3
# What the test itself adds to a request (moto in process, thread wake-ups, the service's
# own compute): the budget bounds the waiting, and the test allows this much on top.
SLACK_S = 0.05
RECOMMENDATIONS = resources.RECOMMENDATIONS.local_name
REALTIME = resources.REALTIME.local_name
NOW_MS = 1_790_000_000_000

Fault = Callable[[Any, dict[str, Any]], dict[str, Any]]


def entry(item: str, score: float, because: str | None, event: str) -> Entry:
    return Entry(item, score, because, event, None, item.title(), because)


@pytest.fixture
def shop(moto_aws: MakeTable) -> None:
    """Shopper ``u`` bought rice: a nightly list, rice's neighbours, trending."""
    create_tables()
    client = boto3.client("dynamodb", region_name=REGION)
    DynamoRecommendationStore(RECOMMENDATIONS, client).write([
        RecRow("U#u", V, [entry("lamb", 0.9, "rice", "purchase")]),
        RecRow("I#rice", V, [entry("milk", 0.8, "rice", "similar")]),
        RecRow("POP#global", V, [entry("bread", 9.0, None, "trending")]),
    ])
    DynamoRealtimeStore(REALTIME, client).record("U#u", [("rice", "purchase", NOW_MS)], [],
                                                 NOW_MS)


class FakeTime:
    """The request's clock and sleep: time passes only as the brown-out says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


CALL_S = 0.005  # what a healthy BatchGetItem takes


class Brownout:
    """moto's DynamoDB client with a fault on chosen BatchGetItem calls (numbered from 1);
    each call takes ``CALL_S`` of the fake time, a slow one more."""

    def __init__(self, faults: dict[int, Fault] | None = None) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.faults = faults or {}
        self.calls = 0
        self.time = FakeTime()

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        self.time.sleep(CALL_S)
        fault = self.faults.get(self.calls)
        if fault:
            return fault(self, RequestItems)
        result: dict[str, Any] = self.client.batch_get_item(RequestItems=RequestItems)
        return result


def throttled(brownout: Brownout, request: dict[str, Any]) -> dict[str, Any]:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                 "Message": "The level of configured provisioned throughput "
                                            "for the table was exceeded."},
                       "ResponseMetadata": {"HTTPStatusCode": 400}}, "BatchGetItem")


def slow(seconds: float, then: Fault | None = None) -> Fault:
    """An answer that takes ``seconds`` longer (under the client's read timeout): the
    answer, or ``then``'s."""
    def fault(brownout: Brownout, request: dict[str, Any]) -> dict[str, Any]:
        brownout.time.sleep(seconds)
        if then is not None:
            return then(brownout, request)
        result: dict[str, Any] = brownout.client.batch_get_item(RequestItems=request)
        return result
    return fault


def unprocessed(table: str) -> Fault:
    """DynamoDB answers for the other tables and hands ``table``'s keys back unprocessed."""
    def fault(brownout: Brownout, request: dict[str, Any]) -> dict[str, Any]:
        rest = {name: keys for name, keys in request.items() if name != table}
        result: dict[str, Any] = (brownout.client.batch_get_item(RequestItems=rest) if rest
                                  else {"Responses": {}})
        result["UnprocessedKeys"] = {table: request[table]} if table in request else {}
        return result
    return fault


def recommend(client: Brownout) -> tuple[RecommendationList, float]:
    registry = MemoryModelRegistry()
    registry.put_version(ModelVersion(V, "exported", "now"))
    registry.promote(V, None, "now")
    config = ServingConfig(new_arrival_share=0, long_tail_share=0,
                           read_budget_ms=int(BUDGET_S * 1000))
    reader = DynamoServingReader(RECOMMENDATIONS, REALTIME, client, config.read_budget_s)
    service = RecommendationService(reader, registry, config, clock=client.time,
                                    sleep=client.time.sleep)
    start = client.time()
    result = service.for_user("u", None, 3)
    return result, client.time() - start


def test_a_healthy_table_gives_every_tier_in_two_round_trips(shop: None) -> None:
    client = Brownout()
    result, _ = recommend(client)
    assert [i.item_id for i in result.items] == ["milk", "lamb", "bread"]
    assert result.tiers == ["session", "personalised", "trending"]
    assert client.calls == 2


def test_one_short_retry_recovers_a_throttled_read(shop: None) -> None:
    client = Brownout({1: throttled})
    result, elapsed = recommend(client)
    assert result.tiers == ["session", "personalised", "trending"]
    assert client.calls == 3 and elapsed < BUDGET_S


def test_a_read_throttled_twice_gives_up_and_the_answer_comes_from_the_next_tier(
    shop: None,
) -> None:
    # The neighbours' read (the session tier) is throttled, and so is its one retry.
    client = Brownout({2: throttled, 3: throttled})
    result, elapsed = recommend(client)
    assert [i.item_id for i in result.items] == ["lamb", "bread"]
    assert result.tiers == ["personalised", "trending"]
    assert client.calls == 3 and elapsed < BUDGET_S


def test_keys_left_unprocessed_are_retried_once_then_left_unread(shop: None) -> None:
    # The lists never come: the realtime rows do, so the session tier still answers.
    client = Brownout({1: unprocessed(RECOMMENDATIONS), 2: unprocessed(RECOMMENDATIONS)})
    result, elapsed = recommend(client)
    assert [i.item_id for i in result.items] == ["milk"] and result.tiers == ["session"]
    assert client.calls == 3 and elapsed < BUDGET_S


def test_a_slow_first_read_leaves_no_time_for_the_second(shop: None) -> None:
    # Answered, but 105 ms of the 300 are gone: a second read could take 200 ms more.
    client = Brownout({1: slow(0.1)})
    result, elapsed = recommend(client)
    assert result.tiers == ["personalised", "trending"]
    assert client.calls == 1 and elapsed < BUDGET_S


def test_a_throttled_read_is_not_retried_when_the_retry_would_not_fit(shop: None) -> None:
    # 90 ms gone before the neighbours' read, which is throttled: a retry (20 ms, then up to
    # 200 ms of timeouts) would end past the budget, so the answer comes without it.
    client = Brownout({1: slow(0.03), 2: slow(0.055, then=throttled)})
    result, elapsed = recommend(client)
    assert result.tiers == ["personalised", "trending"]
    assert client.calls == 2 and elapsed < BUDGET_S


class StalledTable:
    """A socket that accepts connections and never answers: DynamoDB at its worst."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[StalledTable]:
    table = StalledTable()
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{table.port}", "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION,
        resources.RECOMMENDATIONS.env_var: RECOMMENDATIONS,
        resources.REALTIME.env_var: REALTIME,
        resources.REGISTRY.env_var: resources.REGISTRY.local_name,
        resources.EXPERIMENTS.env_var: resources.EXPERIMENTS.local_name,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }.items():
        monkeypatch.setenv(key, value)
    yield table
    table.close()


def test_a_stalled_table_answers_200_within_the_budget(stalled: StalledTable) -> None:
    # The real API function, wired from the environment, its client pointed at the socket.
    spec = importlib.util.spec_from_file_location("api_stalled", ROOT / "functions/api.py")
    assert spec and spec.loader
    api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api)
    for query in ({"user_id": "u", "session_id": "s"}, {"user_id": "u"}):
        start = time.monotonic()
        response = api.handler(api_event("GET", "/recommendations", query),
                               LambdaContext("api"))
        elapsed = time.monotonic() - start
        assert response["statusCode"] == 200
        body = json.loads(response["body"])
        assert body["items"] == [] and body["model_version"] is None
        assert elapsed < BUDGET_S + SLACK_S
    assert stalled.held  # the requests did reach the socket


def test_a_deep_category_keeps_the_one_round_trip_under_100_keys(shop: None) -> None:
    # 128 levels, the most a 256-character category holds: the category and seven parents.
    deep = "/".join(["a"] * 128)
    DynamoRecommendationStore(RECOMMENDATIONS, boto3.client("dynamodb")).write([RecRow(
        f"POP#C#{deep}", V, [Entry("tea", 1.0, None, "trending", deep, "Tea", None)])])
    sizes: list[int] = []

    def counted(client: Any, request: dict[str, Any]) -> dict[str, Any]:
        sizes.append(sum(len(table["Keys"]) for table in request.values()))
        result: dict[str, Any] = client.batch_get_item(RequestItems=request)
        return result

    client = Brownout({1: counted})
    registry = MemoryModelRegistry()
    registry.put_version(ModelVersion(V, "exported", "now"))
    registry.promote(V, None, "now")
    service = RecommendationService(DynamoServingReader(RECOMMENDATIONS, REALTIME, client),
                                    registry, ServingConfig())
    result = service.for_user("u", None, 3, category=deep)
    assert [i.item_id for i in result.items] == ["tea"]
    assert sizes == [1 + 8 + 1 + 1 + 4 + 1]  # list, categories, global, shopper, shards, new
