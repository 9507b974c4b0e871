"""Each function may call exactly the DynamoDB actions its code calls, on exactly those tables.

The real handlers run on moto (``recs_local.cloud``): events and catalog upserts through the
ingest function, the lander, two nightly runs of the real state machine (the second compares
against the live model and archives it), an experiment created through the admin function,
the API's routes (one list served in the experiment), a click on it sent twice, the
experiment's report and stop, the operator console's data (``GET /ops/health`` and
``/ops/attribution``), a rollback through the admin function, and a third night whose export
also retires a version out of service for longer than ``RECS_MODEL_TTL_DAYS``
(``recs.batch.retire``). Every DynamoDB call any of them makes passes a botocore hook that
notes the IAM action it needs, per function and table: the request's own operation, or for a
transaction the action of each item (``Put`` needs ``dynamodb:PutItem``; IAM has no
``TransactWriteItems`` action). The recording must equal ``infra.access.DYNAMODB_ACTIONS``,
the table ``infra/stack.py`` grants from: no call without a grant (AccessDenied in the
cloud), no grant without a call (such as the ``Scan`` and ``DeleteItem`` of CDK's read-write
grants). No synthesis.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest

from infra.access import DYNAMODB_ACTIONS
from recs.contracts import resources
from recs.stores.aws import DynamoModelRegistry
from tests.conftest import api_event, call, event

# What IAM checks for each item of a transaction.
TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                  "ConditionCheck": "ConditionCheckItem"}
TABLE_BY_NAME = {spec.local_name: spec.logical_id for spec in resources.TABLES}

Used = dict[str, dict[str, set[str]]]


def iam_actions(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(table name, IAM action) pairs one DynamoDB API call needs."""
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(table, operation) for table in params["RequestItems"]]
    if operation == "TransactWriteItems":
        return [(body["TableName"], TRANSACT_WRITE[kind])
                for item in params["TransactItems"] for kind, body in item.items()]
    if operation == "TransactGetItems":
        return [(item["Get"]["TableName"], "GetItem") for item in params["TransactItems"]]
    return [(params["TableName"], operation)]


def _shop_events(day: date, suffix: str) -> list[dict[str, Any]]:
    """Two buyers of rice and milk (one also lamb), one browser of tea and coffee."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    rows = [("A", "rice", "purchase"), ("A", "milk", "purchase"), ("A", "lamb", "purchase"),
            ("C", "rice", "purchase"), ("C", "milk", "purchase"),
            ("B", "tea", "view"), ("B", "coffee", "view")]
    return [{**event(user, item, kind, at=noon + timedelta(minutes=i)),
             "event_id": f"{day.isoformat()}-{suffix}-{i}"}
            for i, (user, item, kind) in enumerate(rows)]


@pytest.fixture(scope="module")
def used() -> Iterator[Used]:
    from recs_local.cloud import in_process

    recorded: Used = defaultdict(lambda: defaultdict(set))
    current: list[str | None] = [None]

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        function = current[0]
        assert function is not None, f"DynamoDB {model.name} outside any function"
        for table, action in iam_actions(model.name, params):
            recorded[function][TABLE_BY_NAME[table]].add(action)

    saved_session = boto3.DEFAULT_SESSION
    with in_process() as local:
        cloud: Any = local
        # Clients copy their session's handlers when created, and each handler module
        # creates its clients when the cloud first imports it: after this.
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-parameter-build.dynamodb", record)
        invoke = cloud.invoke

        def invoke_as(name: str, payload: dict[str, Any]) -> Any:
            current[0] = name
            try:
                return invoke(name, payload)
            finally:
                current[0] = None

        cloud.invoke = invoke_as  # the state machine's dispatcher calls it too
        try:
            _run_the_shop(cloud)
        finally:
            boto3.DEFAULT_SESSION = saved_session
    yield {name: dict(tables) for name, tables in recorded.items()}


def _run_the_shop(cloud: Any) -> None:
    now = datetime.now(UTC)
    today = now.date()
    # Realtime state: only events of the last two days are appended to the shopper's entry.
    recent = [{**e, "timestamp": (now - timedelta(minutes=5)).isoformat()}
              for e in _shop_events(today, "now")]
    for events in (_shop_events(today - timedelta(days=2), "a"),
                   _shop_events(today - timedelta(days=1), "b"), recent):
        status, answer = call(cloud, "ingest", api_event("POST", "/events",
                                                         body={"events": events}))
        assert status == 200, answer
    created = now.isoformat()
    items = [{"item_id": "rice", "category": "food/grain", "title": "Rice", "price": 2.5,
              "available": True, "created_at": created},
             {"item_id": "tea", "category": "drinks", "title": "Tea", "price": 4.0,
              "available": False, "created_at": created}]
    status, answer = call(cloud, "ingest", api_event("PUT", "/items", body={"items": items}))
    assert status == 200, answer
    assert cloud.pump_queue() >= 3

    # Night one trains on day a alone; night two holds day b out and scores the candidate
    # and the live model (both trained on day a) against it, then archives night one's.
    first = cloud.run_batch((today - timedelta(days=1)).isoformat())
    assert first["status"] == "SUCCEEDED" and first["output"]["promoted"] is True, first
    second = cloud.run_batch(today.isoformat())
    assert second["status"] == "SUCCEEDED", second
    output = second["output"]
    assert output["promoted"] is True, output
    assert output["metrics"]["live_version"] == first["output"]["version"], output["metrics"]

    experiment = _start_an_experiment(cloud)
    for path, query in (("/recommendations", {"user_id": "A"}),
                        ("/recommendations/trending", None),
                        ("/items/rice/similar", None),
                        ("/models/status", None)):
        status, answer = call(cloud, "api", api_event("GET", path, query))
        assert status == 200, (path, answer)
        if path == "/recommendations":
            shown = answer
    assert answer["live_version"] == output["version"]
    _count_and_stop(cloud, experiment, shown, now)

    _read_the_console(cloud)

    rollback = api_event("POST", f"/models/{first['output']['version']}/promote")
    status, answer = call(cloud, "admin", rollback)
    assert status == 200 and answer["changed"] is True, answer

    # Night three's export also retires the rows of a version out of service for longer than
    # RECS_MODEL_TTL_DAYS: night two's, as if the rollback had happened 60 days ago. (A
    # session of its own, without the recording hook: this is the test, not a function.)
    long_ago = (now - timedelta(days=60)).isoformat(timespec="seconds")
    registry = DynamoModelRegistry(resources.REGISTRY.local_name,
                                   boto3.session.Session().client("dynamodb"))
    record = registry.get_version(output["version"])
    assert record is not None and record.status == "archived"
    record.created_at = record.promoted_at = record.superseded_at = long_ago
    registry.put_version(record)
    third = cloud.run_batch((today + timedelta(days=1)).isoformat())
    assert third["status"] == "SUCCEEDED", third
    assert third["output"].get("retired") == [output["version"]], third["output"]


def _read_the_console(cloud: Any) -> None:
    """The operator console's data: ingest counted each request and the lander each batch
    on today's health row; the nights stored attribution by version and tier. The admin
    reads both (a Query each)."""
    status, health = call(cloud, "admin", api_event("GET", "/ops/health", {"days": "3"}))
    assert status == 200, health
    assert health["days"][-1]["accepted"] >= 21 and health["days"][-1]["landed"] >= 21, health
    status, attribution = call(cloud, "admin", api_event("GET", "/ops/attribution"))
    assert status == 200, attribution


def _start_an_experiment(cloud: Any) -> str:
    """An experiment on the personalised list (the admin reads the running ones, then
    writes the definition), so the API places shopper A in it."""
    body = {"name": "grants", "variants": [{"name": "trending", "control": True},
                                           {"name": "live"}]}
    status, created = call(cloud, "admin", api_event("POST", "/experiments", body=body))
    assert status == 200, created
    return str(created["id"])


def _count_and_stop(cloud: Any, experiment: str, shown: dict[str, Any], now: datetime) -> None:
    """The API counted the list it showed A in the experiment (an exposure); A clicks its
    first item, and the same click arrives again (a retry: ingest reads the unit's row to
    tell it was counted). The admin reports the experiment and stops it."""
    assert shown["experiment"]["id"] == experiment, shown
    click = {**event("A", shown["items"][0]["item_id"], "click", at=now - timedelta(minutes=1)),
             "event_id": "grants-click", "recommendation_id": shown["items"][0][
                 "recommendation_id"]}
    for _ in range(2):
        status, answer = call(cloud, "ingest", api_event("POST", "/events",
                                                         body={"events": [click]}))
        assert status == 200, answer
    status, report = call(cloud, "admin", api_event("GET", f"/experiments/{experiment}"))
    assert status == 200, report
    assert sum(row["clicks"] for row in report["results"]["variants"].values()) == 1, report
    status, stopped = call(cloud, "admin", api_event("POST", f"/experiments/{experiment}/stop"))
    assert status == 200 and stopped["status"] == "stopped", stopped


def test_every_function_ran_and_the_batch_steps_reached_dynamodb(used: Used) -> None:
    """The run covers every function that is granted anything: nothing passes unexercised."""
    assert set(DYNAMODB_ACTIONS) <= set(used)


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_granted_dynamodb_actions_are_exactly_those_called(
        used: Used, spec: resources.FunctionSpec) -> None:
    granted = {table: set(actions) for table, actions in DYNAMODB_ACTIONS.get(spec.name,
                                                                              {}).items()}
    assert used.get(spec.name, {}) == granted


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_a_function_is_told_a_table_name_only_when_it_may_use_the_table(
        spec: resources.FunctionSpec) -> None:
    tables = {t.logical_id for t in resources.TABLES if t.env_var in spec.env}
    assert tables == set(DYNAMODB_ACTIONS.get(spec.name, {}))


def test_every_declared_action_is_a_dynamodb_iam_action() -> None:
    operations = set(botocore.session.get_session().get_service_model("dynamodb")
                     .operation_names)
    # IAM checks transactions per item, and ConditionCheck items as their own action.
    actions = (operations - {"TransactWriteItems", "TransactGetItems"}) | {"ConditionCheckItem"}
    declared = {a for tables in DYNAMODB_ACTIONS.values() for acts in tables.values()
                for a in acts}
    assert declared <= actions
    assert set(DYNAMODB_ACTIONS) <= {spec.name for spec in resources.FUNCTIONS}
    tables = {t for granted in DYNAMODB_ACTIONS.values() for t in granted}
    assert tables <= set(TABLE_BY_NAME.values())
