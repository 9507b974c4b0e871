"""What each request counts toward (recs.api.telemetry), from known answers and events.

The derivation is pure; the last tests hand the figures to a real Powertools ``Metrics`` and
read back the embedded metric format documents it prints.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from recs.api.openapi import document
from recs.api.telemetry import (
    COUNT,
    MILLISECONDS,
    Datum,
    Recorder,
    answer_data,
    ingest_data,
    latency,
    publish,
)
from recs.contracts import metrics as m
from recs.contracts.ids import Arm, model_version, recommendation_id
from recs.contracts.routes import ROUTES

VERSION = model_version(date(2026, 12, 1), ["events/dt=2026-11-30/a.parquet"], {})


def _answer(*tiers: str, version: str | None = VERSION, arm: Arm | None = None,
            experiment: dict[str, str] | None = None) -> dict[str, Any]:
    rid = recommendation_id(version, arm)
    answer: dict[str, Any] = {
        "recommendation_id": rid, "model_version": version,
        "tiers": list(dict.fromkeys(tiers)),
        "items": [{"item_id": f"i{n}", "tier": tier, "recommendation_id": f"{rid}.{tier}"}
                  for n, tier in enumerate(tiers)],
    }
    if experiment:
        answer["experiment"] = experiment
    return answer


def _by_name(data: list[Datum]) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for datum in data:
        found.setdefault(datum.name, []).append((dict(datum.dimensions), datum.value))
    return found


def test_a_personalised_answer_counts_its_route_tiers_and_version() -> None:
    data = _by_name(answer_data("recommendations",
                                _answer("personalised", "personalised", "trending",
                                        "new_arrival"), shopper=True))
    assert data[m.REQUESTS] == [({"route": "recommendations", "tier": "personalised"}, 1)]
    assert data[m.EMPTY_ANSWERS] == [({"route": "recommendations"}, 0)]
    assert data[m.FALLBACK] == [({"route": "recommendations"}, 0)]
    assert sorted(data[m.SERVED_ITEMS], key=str) == sorted([
        ({"tier": "personalised"}, 2), ({"tier": "trending"}, 1), ({"tier": "new_arrival"}, 1),
        ({"model_version": VERSION}, 4)], key=str)
    assert m.EXPOSURES not in data


@pytest.mark.parametrize(("tiers", "fallback"), [
    (("trending", "category_trending"), 1),
    (("category_trending", "new_arrival"), 1),  # what everybody gets
    (("trending", "long_tail"), 0),  # the long tail comes from the shopper's own lists
    (("session",), 0),
    ((), 1),  # nothing at all for a known shopper
])
def test_a_known_shopper_without_own_tiers_fell_back(tiers: tuple[str, ...],
                                                     fallback: int) -> None:
    data = _by_name(answer_data("recommendations", _answer(*tiers), shopper=True))
    assert data[m.FALLBACK] == [({"route": "recommendations"}, fallback)]


def test_fallback_is_not_counted_for_anonymous_requests_other_routes_or_experiments() -> None:
    assert m.FALLBACK not in _by_name(answer_data("recommendations", _answer("trending"),
                                                  shopper=False))
    assert m.FALLBACK not in _by_name(answer_data("trending", _answer("trending"),
                                                  shopper=True))
    control = _answer("trending", arm=Arm("exp-1", 0, "u"),
                      experiment={"id": "exp-1", "variant": "trending"})
    assert m.FALLBACK not in _by_name(answer_data("recommendations", control, shopper=True))


def test_an_empty_answer() -> None:
    data = _by_name(answer_data("similar", _answer(version=None), shopper=False))
    assert data[m.REQUESTS] == [({"route": "similar", "tier": m.NO_TIER}, 1)]
    assert data[m.EMPTY_ANSWERS] == [({"route": "similar"}, 1)]
    assert m.SERVED_ITEMS not in data


def test_an_answer_before_the_first_model_serves_version_none() -> None:
    data = _by_name(answer_data("trending", _answer("trending", version=None), shopper=False))
    assert ({"model_version": m.NO_VERSION}, 1) in data[m.SERVED_ITEMS]


def test_an_answer_in_an_experiment_is_an_exposure_of_the_variant_position() -> None:
    answer = _answer("personalised", arm=Arm("exp-7", 2, "s"),
                     experiment={"id": "exp-7", "variant": "blend, tuned"})
    data = _by_name(answer_data("recommendations", answer, shopper=True))
    assert data[m.EXPOSURES] == [({"experiment": "exp-7", "variant": "2"}, 1)]


def test_latency_is_in_milliseconds_by_route() -> None:
    assert latency("trending", 1.23456) == Datum(m.LATENCY, (("route", "trending"),), 1.235,
                                                 MILLISECONDS)


def _event(kind: str, rid: str | None) -> dict[str, Any]:
    return {"event_id": f"e-{kind}-{rid}", "event_type": kind, "recommendation_id": rid}


def test_ingest_counts_its_tallies_and_the_attributed_events() -> None:
    plain = recommendation_id(VERSION)
    arm = recommendation_id(VERSION, Arm("exp-7", 1, "u"))
    stored = [_event("click", f"{plain}.personalised"), _event("click", f"{plain}.trending"),
              _event("purchase", f"{plain}.personalised"), _event("view", None),
              _event("click", f"{arm}.session"), _event("impression", f"{arm}.session")]
    data = _by_name(ingest_data(accepted=8, rejected=1, duplicates=2, stored=stored))
    assert data[m.EVENTS_ACCEPTED] == [({}, 8)]
    assert data[m.EVENTS_REJECTED] == [({}, 1)]
    assert data[m.EVENTS_DUPLICATE] == [({}, 2)]
    assert sorted(data[m.ATTRIBUTED_EVENTS], key=str) == sorted([
        ({"event_type": "click", "tier": "personalised"}, 1),
        ({"event_type": "click", "tier": "trending"}, 1),
        ({"event_type": "click", "tier": "session"}, 1),
        ({"event_type": "purchase", "tier": "personalised"}, 1),
        ({"event_type": "impression", "tier": "session"}, 1),
        ({"event_type": "click", "model_version": VERSION}, 3),
        ({"event_type": "purchase", "model_version": VERSION}, 1),
        ({"event_type": "impression", "model_version": VERSION}, 1),
    ], key=str)
    assert data[m.CLICKS] == [({"experiment": "exp-7", "variant": "1"}, 1)]


def test_a_shops_garbled_recommendation_id_opens_no_new_metric() -> None:
    data = _by_name(ingest_data(1, 0, 0, [_event("click", "abc.my-version.banner")]))
    assert sorted(data[m.ATTRIBUTED_EVENTS], key=str) == sorted([
        ({"event_type": "click", "tier": m.OTHER}, 1),
        ({"event_type": "click", "model_version": m.OTHER}, 1)], key=str)
    assert m.CLICKS not in data


def test_the_tiers_are_those_the_answer_schema_names() -> None:
    schemas = document(ROUTES, "t", "1", "")["components"]["schemas"]
    assert schemas["RecommendedItem"]["properties"]["tier"]["enum"] == list(m.TIERS)
    assert set(m.PERSONAL_TIERS) <= set(m.TIERS)


# --- through Powertools ---------------------------------------------------------------------


def _documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _metrics() -> Metrics:
    return Metrics(namespace=m.NAMESPACE, service=m.SERVICE_NAME)


def test_publishing_writes_one_document_per_set_of_dimensions(
        capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Recorder()
    recorder.answer("recommendations", _answer("personalised", "trending"), shopper=True)
    assert recorder.publish(_metrics(), 12.5) == 5  # route, route+tier, two tiers, version
    documents = _documents(capsys.readouterr().out)
    assert len(documents) == 5
    for doc in documents:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == m.NAMESPACE
        (dimensions,) = directive["Dimensions"]
        assert doc[m.SERVICE_DIMENSION] == m.SERVICE_NAME and "service" in dimensions
    (route,) = [d for d in documents if m.LATENCY in d]
    assert route["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["route", "service"]]
    # Powertools writes each value as a list (one entry per add_metric of the name)
    assert (route[m.LATENCY], route[m.EMPTY_ANSWERS], route[m.FALLBACK]) == ([12.5], [0], [0])
    units = {metric["Name"]: metric["Unit"]
             for metric in route["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {m.LATENCY: MILLISECONDS, m.EMPTY_ANSWERS: COUNT, m.FALLBACK: COUNT}
    (first,) = [d for d in documents if m.REQUESTS in d]
    assert (first["route"], first["tier"], first[m.REQUESTS]) == ("recommendations",
                                                                  "personalised", [1])
    assert recorder.publish(_metrics(), 1.0) == 0  # published once only
    assert _documents(capsys.readouterr().out) == []


def test_a_request_no_list_route_answered_publishes_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert Recorder().publish(_metrics(), 3.0) == 0
    assert capsys.readouterr().out == ""


class _Broken:
    def __init__(self) -> None:
        self.cleared = False

    def add_dimension(self, name: str, value: str) -> None:
        raise ValueError("no")

    def add_metric(self, name: str, unit: str, value: float) -> None: ...

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...

    def clear_metrics(self) -> None:
        self.cleared = True


def test_a_metric_that_cannot_be_published_never_fails_the_request() -> None:
    sink = _Broken()
    assert publish(sink, [latency("trending", 1.0)]) == 0
    assert sink.cleared


def test_with_metrics_disabled_nothing_piles_up(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sink = _metrics()
    for _ in range(3):
        publish(sink, answer_data("trending", _answer("trending"), shopper=False))
    assert capsys.readouterr().out == ""
    assert sink.metric_set == {} and set(sink.dimension_set) <= {"service"}
