"""The alarms and the dashboard watch metrics the functions really emit, under the very
names and dimensions.

``infra/constructs_monitoring.py`` alarms on ``UnreadableInputs`` and ``ModelPromoted`` in
the ``recs`` namespace with the one dimension ``service=recs`` (``tests/infra/test_stack.py``
checks the template), on ``Fallback`` by route and on ``LiveCtrChange``, and charts the
request and event metrics (``tests/infra/test_business_alarms.py``). A CloudWatch alarm on a
metric nobody emits under exactly that namespace, name and dimension set never fires, or,
treating missing data as breaching, always does; a chart of one stays empty. So here the real
handlers run nightly batches, answer list requests and take events on moto, and the embedded
metric format documents they print are read back: same namespace, same dimension set, and
the values the alarms count on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template

from recs.contracts import layout, resources
from recs.contracts import metrics as names
from recs.contracts.events import EVENT_TYPES
from recs.contracts.ids import Arm, recommendation_id
from tests.conftest import api_event, call, event

DAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def metric_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local cloud keeps metric lines off the console unless told otherwise."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def _emitted(out: str) -> list[tuple[str, str, tuple[str, ...], float]]:
    """(namespace, metric, dimension names, value) of every EMF document printed."""
    found = []
    for line in out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                assert document["service"] == resources.SERVICE and "service" in dimensions
                for metric in directive["Metrics"]:
                    values = document[metric["Name"]]
                    for value in values if isinstance(values, list) else [values]:
                        found.append((directive["Namespace"], metric["Name"],
                                      tuple(dimensions), float(value)))
    return found


def _values(out: str, metric: str) -> list[float]:
    emitted = _emitted(out)
    named = [e for e in emitted if e[1] == metric]
    # Exactly what the alarm reads: namespace recs, dimensions [service].
    assert all(e[0] == resources.METRICS_NAMESPACE and e[2] == ("service",) for e in named)
    return [e[3] for e in named]


@pytest.fixture
def shop(cloud: Any) -> Any:
    noon = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)
    events = [event(user, item, at=noon + timedelta(minutes=i))
              for i, (user, item) in enumerate([("A", "rice"), ("A", "milk"), ("B", "rice"),
                                                ("B", "milk"), ("A", "lamb")])]
    assert call(cloud, "ingest", api_event("POST", "/events", body={"events": events}))[0] == 200
    assert cloud.pump_queue() >= 1
    return cloud


def test_a_promotion_counts_one_and_a_rerun_of_the_live_day_zero(
        shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    as_of = (DAY + timedelta(days=1)).isoformat()
    capsys.readouterr()
    assert shop.run_batch(as_of)["output"]["promoted"] is True
    first = capsys.readouterr().out
    assert _values(first, resources.MODEL_PROMOTED_METRIC) == [1.0]
    assert _values(first, resources.UNREADABLE_INPUTS_METRIC) == [0.0]  # data every night

    assert shop.run_batch(as_of)["status"] == "SUCCEEDED"
    assert _values(capsys.readouterr().out, resources.MODEL_PROMOTED_METRIC) == [0.0]


def test_a_corrupt_event_file_counts_as_one_unreadable_input(
        shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("s3").put_object(Bucket=resources.LOCAL_BUCKET,
                                  Key=layout.event_file(DAY.isoformat(), "corrupt"),
                                  Body=b"PAR1 this is not parquet")
    capsys.readouterr()
    shop.run_batch((DAY + timedelta(days=1)).isoformat())  # skipped, or too much to skip
    assert _values(capsys.readouterr().out, resources.UNREADABLE_INPUTS_METRIC) == [1.0]


# --- every recs metric an alarm or a chart reads is one a function emits ---------------------

# What a dimension may hold in an alarm or a chart that names one value of it.
_VALUES = {"service": {resources.SERVICE}, "route": {"recommendations", "trending", "similar"},
           "tier": set(names.TIERS), "event_type": set(EVENT_TYPES)}
# Emitted by the nightly attribution step only when a shop's impressions span eight days;
# functions/attribution.py sends it with the service dimension alone, as the alarm reads it.
_NOT_IN_THIS_RUN = {names.LIVE_CTR_CHANGE}


def _watched(template: Template) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """(metric, {(dimension, value or "*")}) of every recs metric the alarms, the graphs and
    the SEARCH expressions of the dashboard read."""
    watched = set()
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == names.NAMESPACE:
            watched.add((props["MetricName"], frozenset(
                (d["Name"], d["Value"]) for d in props["Dimensions"])))
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads("".join(part if isinstance(part, str) else "<ref>" for part in
                              dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]))
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            strings = [part for part in line if isinstance(part, str)]
            if strings and strings[0] == names.NAMESPACE:
                watched.add((strings[1], frozenset(zip(strings[2::2], strings[3::2],
                                                       strict=True))))
            options = line[-1] if isinstance(line[-1], dict) else {}
            search = re.fullmatch(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"(.*)', .*",
                                  options.get("expression", ""))
            if search and search[1].startswith(f"{names.NAMESPACE},"):
                fixed = dict(re.findall(r'(\w+)="([^"]*)"', search[3]))
                watched.add((search[2], frozenset(
                    (key, fixed.get(key, "*")) for key in search[1].split(",")[1:])))
    return watched


@pytest.mark.infra
def test_every_metric_an_alarm_or_a_chart_reads_is_emitted(
        shop: Any, template: Template, capsys: pytest.CaptureFixture[str]) -> None:
    as_of = (DAY + timedelta(days=1)).isoformat()
    assert shop.run_batch(as_of)["output"]["promoted"] is True
    # Every shopper of the similar items surface is in one arm or the other: an exposure.
    assert call(shop, "admin", api_event("POST", "/experiments", body={
        "name": "similar", "surface": "similar",
        "variants": [{"name": "trending", "control": True}, {"name": "live"}]}))[0] == 200
    answers = [call(shop, "api", api_event("GET", path, query))[1] for path, query in (
        ("/recommendations", {"user_id": "A"}),
        ("/recommendations", {"user_id": "stranger"}),  # a fallback
        ("/recommendations/trending", {}), ("/items/rice/similar", {"user_id": "B"}))]
    assert "experiment" in answers[3]
    shown = answers[0]["items"][0]
    arm = recommendation_id(answers[0]["model_version"], Arm("exp-1", 1, "u"))
    followed = [event("A", shown["item_id"], kind, at=datetime.now(UTC) - timedelta(minutes=1),
                      recommendation_id=rid)
                for kind, rid in (("click", shown["recommendation_id"]),
                                  ("purchase", shown["recommendation_id"]),
                                  ("click", f"{arm}.personalised"))]
    followed.append(dict(followed[0]))  # a duplicate within the request
    assert call(shop, "ingest", api_event("POST", "/events", body={"events": followed}))[0] == 200

    emitted: dict[str, list[dict[str, str]]] = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                assert directive["Namespace"] == names.NAMESPACE
                for metric in directive["Metrics"]:
                    for dimensions in directive["Dimensions"]:
                        emitted.setdefault(metric["Name"], []).append(
                            {key: document[key] for key in dimensions})

    def matches(sent: dict[str, str], wanted: frozenset[tuple[str, str]]) -> bool:
        return set(sent) == {key for key, _ in wanted} and all(
            sent[key] == value if value != "*" else True for key, value in wanted)

    watched = _watched(template)
    assert {name for name, _ in watched} >= {
        names.FALLBACK, names.LIVE_CTR_CHANGE, names.SERVED_ITEMS, names.ATTRIBUTED_EVENTS,
        names.EVENTS_ACCEPTED, names.EXPOSURES, names.CLICKS}
    for name, wanted in sorted(watched, key=str):
        if name in _NOT_IN_THIS_RUN:
            assert wanted == {("service", resources.SERVICE)}
            continue
        # The dimension names exactly, and each value one the functions can send; a chart
        # per tier or event type is satisfied by the dimension set of any of them.
        shapes = {frozenset((k, "*") if k in ("tier", "event_type") else (k, v)
                            for k, v in wanted)}
        assert all(v in _VALUES.get(k, {v}) or v == "*" for k, v in wanted), (name, wanted)
        assert any(matches(sent, shape) for sent in emitted.get(name, [])
                   for shape in shapes), (name, sorted(wanted), emitted.get(name))
