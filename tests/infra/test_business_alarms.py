"""The alarms a shop cares about and the business dashboard, read from the template.

Each alarm: its metric (namespace, name, exact dimensions), statistic, period, threshold,
comparison and what missing data means. The dashboard: the widgets and the expressions they
chart. ``tests/infra/test_alarm_metrics.py`` checks that the functions really emit the metrics
under those names and dimensions.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from recs.contracts import metrics as m
from recs.contracts import resources

pytestmark = pytest.mark.infra

SERVICE = {"Name": "service", "Value": resources.SERVICE}


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {lid: res["Properties"]
            for lid, res in template.find_resources("AWS::CloudWatch::Alarm").items()}


def _alarm(template: Template, namespace: str, metric: str) -> dict[str, Any]:
    (alarm,) = [a for a in _alarms(template).values()
                if a.get("Namespace") == namespace and a.get("MetricName") == metric]
    return alarm


def _shape(alarm: dict[str, Any]) -> tuple[Any, ...]:
    return (alarm.get("Statistic") or alarm.get("ExtendedStatistic"), alarm["Period"],
            alarm["EvaluationPeriods"], alarm.get("DatapointsToAlarm"), alarm["Threshold"],
            alarm["ComparisonOperator"], alarm["TreatMissingData"])


def test_api_p95_latency_above_200_ms_for_a_quarter_hour_alarms(template: Template) -> None:
    alarm = _alarm(template, "AWS/ApiGateway", "Latency")
    assert _shape(alarm) == ("p95", 300, 3, 3, 200, "GreaterThanThreshold", "notBreaching")
    assert {d["Name"] for d in alarm["Dimensions"]} == {"ApiName"}


def test_a_fallback_share_above_a_fifth_of_known_shoppers_alarms(template: Template) -> None:
    alarm = _alarm(template, m.NAMESPACE, m.FALLBACK)
    assert alarm["Dimensions"] == [{"Name": "route", "Value": "recommendations"}, SERVICE]
    assert _shape(alarm) == ("Average", 900, 2, 2, 0.2, "GreaterThanThreshold", "notBreaching")


def test_the_live_ctr_5_percent_below_its_trailing_week_alarms(template: Template) -> None:
    alarm = _alarm(template, m.NAMESPACE, m.LIVE_CTR_CHANGE)
    assert alarm["Dimensions"] == [SERVICE]
    # A shop that sends no impressions has no figure: missing data is not a drop.
    assert _shape(alarm) == ("Average", 86_400, 1, None, -5, "LessThanThreshold",
                             "notBreaching")


def test_no_successful_batch_for_36_hours_alarms(template: Template) -> None:
    alarm = _alarm(template, "AWS/States", "ExecutionsSucceeded")
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine")
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
    # No run at all is no success: missing hours breach.
    assert _shape(alarm) == ("Sum", 3600, 36, 36, 1, "LessThanThreshold", "breaching")
    # Valid in CloudWatch: periods of an hour or more may span up to 7 days in all.
    assert alarm["Period"] >= 3600 and alarm["Period"] * alarm["EvaluationPeriods"] <= 7 * 86_400
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 36 * 3600


def test_dead_letters_alarm_once(template: Template) -> None:
    (dlq,) = [lid for lid, res in template.find_resources("AWS::SQS::Queue").items()
              if "RedrivePolicy" not in res["Properties"]]
    on_dlq = [a for a in _alarms(template).values()
              if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and a["Dimensions"][0]["Value"] == {"Fn::GetAtt": [dlq, "QueueName"]}]
    assert len(on_dlq) == 1
    assert _shape(on_dlq[0])[4:6] == (1, "GreaterThanOrEqualToThreshold")


def test_every_business_alarm_notifies_the_alarm_topic(template: Template) -> None:
    (topic,) = template.find_resources("AWS::SNS::Topic")
    for namespace, metric in (("AWS/ApiGateway", "Latency"), (m.NAMESPACE, m.FALLBACK),
                              (m.NAMESPACE, m.LIVE_CTR_CHANGE),
                              ("AWS/States", "ExecutionsSucceeded")):
        assert _alarm(template, namespace, metric)["AlarmActions"] == [{"Ref": topic}]


# --- the dashboard --------------------------------------------------------------------------


def _resolve(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(part) for part in parts)
    return "<ref>"


@pytest.fixture(scope="module")
def widgets(template: Template) -> dict[str, dict[str, Any]]:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(_resolve(dashboard["Properties"]["DashboardBody"]))
    return {w["properties"]["title"]: w["properties"] for w in body["widgets"]
            if "title" in w.get("properties", {})}


def _lines(widget: dict[str, Any]) -> list[list[Any]]:
    return [line for line in widget["metrics"]]


def _expressions(widget: dict[str, Any]) -> dict[str, str]:
    """label -> expression of the visible expressions of a graph."""
    found = {}
    for line in _lines(widget):
        options = line[-1] if isinstance(line[-1], dict) else {}
        if "expression" in options and options.get("visible", True):
            found[options.get("label", "")] = options["expression"]
    return found


def _metric_ids(widget: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """id -> (metric name, dimensions) of the metrics a graph's expressions use."""
    found = {}
    for line in _lines(widget):
        options = line[-1] if isinstance(line[-1], dict) else {}
        if "expression" in options:
            continue
        names = [part for part in line if isinstance(part, str)]
        if names[0] == ".":  # CloudWatch's "same as the line before": not produced here
            raise AssertionError(line)
        namespace, metric, *pairs = names
        assert namespace == m.NAMESPACE
        found[options["id"]] = (metric, dict(zip(pairs[::2], pairs[1::2], strict=True)))
    return found


@pytest.mark.parametrize(("title", "event", "base"), [
    ("Click-through rate by tier (clicks / items served, hourly)", "click", m.SERVED_ITEMS),
    ("Conversion by tier (purchases / clicks, hourly)", "purchase", m.ATTRIBUTED_EVENTS),
])
def test_ctr_and_conversion_by_tier_divide_the_tiers_counts(
        widgets: dict[str, dict[str, Any]], title: str, event: str, base: str) -> None:
    widget = widgets[title]
    expressions = _expressions(widget)
    assert set(expressions) == set(m.TIERS)
    ids = _metric_ids(widget)
    for tier, expression in expressions.items():
        top, bottom = (part.strip() for part in expression.split("/"))
        assert ids[top] == (m.ATTRIBUTED_EVENTS,
                            {"event_type": event, "service": "recs", "tier": tier})
        expected = {"service": "recs", "tier": tier}
        if base == m.ATTRIBUTED_EVENTS:
            expected["event_type"] = "click"
        assert ids[bottom] == (base, expected)


def _searches(widget: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(schema, query, statistic) of each SEARCH a graph draws."""
    found = []
    for expression in _expressions(widget).values():
        match = re.fullmatch(r"SEARCH\('\{([^}]*)\} ([^']*)', '(\w+)', (\d+)\)", expression)
        assert match, expression
        found.append((match[1], match[2], match[3]))
    return found


def test_by_model_version_searches_whatever_versions_served(
        widgets: dict[str, dict[str, Any]]) -> None:
    searches = _searches(widgets["By model version: items served, clicks and purchases "
                                 "(hourly)"])
    assert sorted(searches) == sorted([
        ("recs,model_version,service", 'MetricName="ServedItems" service="recs"', "Sum"),
        ("recs,event_type,model_version,service",
         'MetricName="AttributedEvents" service="recs" event_type="click"', "Sum"),
        ("recs,event_type,model_version,service",
         'MetricName="AttributedEvents" service="recs" event_type="purchase"', "Sum"),
    ])


def test_experiment_traffic_searches_exposures_and_clicks_by_experiment_and_variant(
        widgets: dict[str, dict[str, Any]]) -> None:
    searches = _searches(widgets["Experiment traffic: lists served and clicks per variant "
                                 "(position)"])
    assert sorted(searches) == [
        ("recs,experiment,service,variant", f'MetricName="{m.CLICKS}" service="recs"', "Sum"),
        ("recs,experiment,service,variant", f'MetricName="{m.EXPOSURES}" service="recs"',
         "Sum"),
    ]


def test_fallback_share_and_events_per_minute(widgets: dict[str, dict[str, Any]]) -> None:
    fallback = widgets["Fallback share of known shoppers' recommendations"]
    (line,) = _lines(fallback)
    assert line[:6] == [m.NAMESPACE, m.FALLBACK, "route", "recommendations", "service", "recs"]
    options = line[6] if len(line) > 6 else {}
    assert options.get("stat", "Average") == "Average"  # a graph's default statistic
    assert fallback["annotations"]["horizontal"][0]["value"] == 0.2
    events = widgets["Events per minute"]
    assert [(line[1], line[-1]["stat"], line[-1]["period"]) for line in _lines(events)] == [
        (m.EVENTS_ACCEPTED, "Sum", 60), (m.EVENTS_REJECTED, "Sum", 60),
        (m.EVENTS_DUPLICATE, "Sum", 60)]


def test_the_live_ctr_change_is_charted_with_its_alarm_line(
        widgets: dict[str, dict[str, Any]]) -> None:
    widget = widgets["Live click-through rate against its trailing 7 days (%)"]
    (line,) = _lines(widget)
    assert line[:4] == [m.NAMESPACE, m.LIVE_CTR_CHANGE, "service", "recs"]
    assert widget["annotations"]["horizontal"][0]["value"] == -5
