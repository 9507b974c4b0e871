"""The nightly recount: each experiment's exact counts from the lake, what a hand count says.

The lake is made the way production makes it: events through ingest (which also keeps the
live counts) into the queue, each request's messages landed as Parquet by the lander, so a
redelivered event sits in two files. The recount must equal the live counts when the live
side saw each event once, and correct them when it did not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from recs.batch.attribution import ctr_change, read_attributed
from recs.batch.steps.attribution import attribution_step, still_counted
from recs.contracts import layout
from recs.contracts.experiments import Experiment, Outcome, VariantCounts, outcome_of
from recs.contracts.ids import Arm, recommendation_id
from recs.exceptions import StoreError
from recs.experiments.registry import experiment_report
from recs.intake.ingest import ingest
from recs.intake.landing import land_messages
from recs.stores.memory import MemoryEventQueue, MemoryExperimentStore, MemoryObjectStore
from tests.conftest import api_event, call, event, rice_milk_lamb

AS_OF = date(2026, 11, 23)
DAY1 = datetime(2026, 11, 21, 10, tzinfo=UTC)
DAY2 = datetime(2026, 11, 22, 10, tzinfo=UTC)
NOW_MS = int(datetime(2026, 11, 23, 1, tzinfo=UTC).timestamp() * 1000)
SHOP = "20261120T090000-aaaaaa"  # by user: control (0) and treatment (1)
OTHER = "20261120T090000-bbbbbb"  # by session, running too


def _experiment(experiment_id: str, unit: str = "user", **extra: Any) -> Experiment:
    experiment: Experiment = {
        "id": experiment_id, "name": experiment_id, "surface": "recommendations",
        "unit": unit,  # type: ignore[typeddict-item]
        "variants": [{"name": "control", "weight": 0.5, "control": True},
                     {"name": "treatment", "weight": 0.5}],
        "minimum_detectable_effect": 0.05, "primary_metric": "ctr", "status": "running",
        "created_at": "2026-11-20T09:00:00+00:00"}
    return {**experiment, **extra}  # type: ignore[typeddict-item]


def _rid(variant: int, experiment: str = SHOP, unit: str = "u") -> str:
    return f"{recommendation_id('20261120-live', Arm(experiment, variant, unit))}.personalised"


CONTROL, TREATMENT = _rid(0), _rid(1)


def _ev(user: str | None, item: str, kind: str, at: datetime, event_id: str,
        **extra: Any) -> dict[str, Any]:
    raw = {**event(user or "x", item, kind, at), "event_id": event_id, **extra}
    if user is None:
        del raw["user_id"]
    return raw


def _nights() -> list[list[dict[str, Any]]]:
    """Two requests; the second resends one click of the first (a client's retry), so the
    lake holds it in two files."""
    first = [
        _ev("A", "rice", "impression", DAY1, "e1", recommendation_id=CONTROL),
        _ev("A", "rice", "click", DAY1 + timedelta(minutes=1), "e2", recommendation_id=CONTROL),
        _ev("B", "tea", "impression", DAY1, "e3", recommendation_id=TREATMENT),
        _ev("B", "tea", "purchase", DAY1 + timedelta(minutes=2), "e4",
            recommendation_id=TREATMENT, price=12.5, quantity=2),
        # no user id in an experiment by user: counts nowhere
        _ev(None, "rice", "click", DAY1, "e5", session_id="s-1", recommendation_id=CONTROL),
        # a garbled arm: counts nowhere
        _ev("C", "rice", "click", DAY1, "e6",
            recommendation_id="r1.20261120-live.20261120T090000-aaaaaa~x~u.personalised"),
        # the other experiment's arm, by session
        _ev("D", "milk", "click", DAY1, "e7", session_id="s-D",
            recommendation_id=_rid(1, OTHER, "s")),
        _ev("A", "tea", "view", DAY1, "e8", recommendation_id=CONTROL),  # adds nothing
        _ev("A", "rice", "click", DAY1, "e9"),  # no recommendation id
    ]
    second = [
        _ev("A", "rice", "click", DAY1 + timedelta(minutes=1), "e2", recommendation_id=CONTROL),
        _ev("A", "rice", "cart", DAY2, "e10", recommendation_id=CONTROL),
        _ev("B", "tea", "click", DAY2, "e11", recommendation_id=TREATMENT),
        _ev("A", "rice", "purchase", DAY2 + timedelta(minutes=1), "e12",
            recommendation_id=CONTROL, price=3.0),
    ]
    return [first, second]


def _shop(live: MemoryExperimentStore | None = None) -> tuple[MemoryObjectStore,
                                                               MemoryExperimentStore]:
    """The lake (each request landed apart) and the experiments with their live counts: A
    was served a control list on day 1, E two treatment lists on day 2 and did nothing."""
    live = live or MemoryExperimentStore()
    live.create(_experiment(SHOP))
    live.create(_experiment(OTHER, unit="session"))
    live.record(SHOP, 0, "A", Outcome(served=1), int(DAY1.timestamp() * 1000))
    live.record(SHOP, 1, "E", Outcome(served=1), int(DAY2.timestamp() * 1000))
    live.record(SHOP, 1, "E", Outcome(served=1), int(DAY2.timestamp() * 1000) + 5)
    objects = MemoryObjectStore()
    for number, request in enumerate(_nights()):
        queue = MemoryEventQueue()
        result = ingest(request, queue, None, now=NOW_MS, experiments=live)
        assert result.accepted == len(request), result
        landing = land_messages([(f"m{number}-{i}", body)
                                 for i, body in enumerate(queue.messages)], objects, NOW_MS)
        assert not landing.refused
    return objects, live


# What a hand count says.
CONTROL_TOTAL = VariantCounts(units=1, exposures=2, clicks=1, clicking_units=1,
                              carting_units=1, purchasing_units=1, revenue=3.0,
                              revenue_squares=9.0)
TREATMENT_TOTAL = VariantCounts(units=2, exposures=3, clicks=1, clicking_units=1,
                                purchasing_units=1, revenue=25.0, revenue_squares=625.0)
DAYS = {
    "2026-11-21": {0: VariantCounts(units=1, exposures=2, clicks=1, clicking_units=1),
                   1: VariantCounts(units=1, exposures=1, purchasing_units=1, revenue=25.0,
                                    revenue_squares=625.0)},
    "2026-11-22": {0: VariantCounts(units=1, carting_units=1, purchasing_units=1, revenue=3.0,
                                    revenue_squares=9.0),
                   1: VariantCounts(units=2, exposures=2, clicks=1, clicking_units=1)},
}


def test_the_recount_is_the_hand_count() -> None:
    objects, store = _shop()
    state = attribution_step({"as_of": AS_OF.isoformat()}, objects, store)
    exact = store.exact(SHOP)
    assert exact is not None and exact.as_of == "2026-11-23"
    assert exact.totals == {0: CONTROL_TOTAL, 1: TREATMENT_TOTAL}
    assert exact.days == DAYS
    other = store.exact(OTHER)
    assert other is not None and other.totals == {
        1: VariantCounts(units=1, clicks=1, clicking_units=1)}
    summary = state["attribution"]
    assert summary["experiments"] == {SHOP: 3, OTHER: 1}
    # e1..e8 and e10..e12 carry an id; e2 twice in the lake, once here
    assert summary["attributed_events"] == 11
    assert summary["experiment_events"] == 8  # e1-e4, e7, e10-e12
    assert summary["files"] == 3 and summary["skipped_event_files"] == 0


def test_the_recount_equals_the_live_counts_when_the_live_side_saw_each_event_once() -> None:
    objects, store = _shop()
    live = {experiment: store.live_counts(experiment) for experiment in (SHOP, OTHER)}
    assert live[SHOP] == {0: CONTROL_TOTAL, 1: TREATMENT_TOTAL}  # the hand count, live
    attribution_step({"as_of": AS_OF.isoformat()}, objects, store)
    for experiment in (SHOP, OTHER):
        exact = store.exact(experiment)
        assert exact is not None and exact.totals == live[experiment]


def test_the_recount_corrects_a_live_double_count() -> None:
    """A click counted twice live (its event id no longer remembered: a unit's row full, or
    the variant's sums written twice) is counted once in the recount."""
    objects, store = _shop()
    click = outcome_of("click", None, None)
    assert click is not None
    store.record(SHOP, 0, "A", click, NOW_MS)  # e2 again, without its id
    assert store.live_counts(SHOP)[0].clicks == 2
    attribution_step({"as_of": AS_OF.isoformat()}, objects, store)
    exact = store.exact(SHOP)
    assert exact is not None and exact.totals[0] == CONTROL_TOTAL
    report = experiment_report(SHOP, store)
    assert report["exact"]["results"]["variants"]["control"]["clicks"] == 1
    assert report["exact"]["days"]["2026-11-21"]["control"]["clicks"] == 1


def test_an_unreadable_file_is_skipped_and_counted() -> None:
    objects, store = _shop()
    objects.put(layout.event_file("2026-11-22", "broken"), b"PAR1 not parquet at all")
    state = attribution_step({"as_of": AS_OF.isoformat()}, objects, store)
    assert state["attribution"]["skipped_event_files"] == 1
    assert "not a readable Parquet file" in state["attribution"]["skipped"][0]["reason"]
    exact = store.exact(SHOP)
    assert exact is not None and exact.totals == {0: CONTROL_TOTAL, 1: TREATMENT_TOTAL}


def test_only_days_before_the_as_of_midnight_are_counted() -> None:
    """The run counts whole days: as of the 22nd, the 22nd's events wait for tomorrow (the
    served lists are the live rows' as they stand)."""
    objects, store = _shop()
    attribution_step({"as_of": "2026-11-22"}, objects, store)
    exact = store.exact(SHOP)
    assert exact is not None and sorted(exact.days) == ["2026-11-21", "2026-11-22"]
    assert exact.days["2026-11-21"] == DAYS["2026-11-21"]
    assert exact.days["2026-11-22"] == {1: VariantCounts(units=1, exposures=2)}  # E served


@pytest.mark.parametrize(("status", "stopped_at", "counted"), [
    ("running", None, True),
    ("stopped", "2026-11-21T00:00:00+00:00", True),  # the as-of midnight less two days
    ("stopped", "2026-11-20T23:59:59+00:00", False),
    ("stopped", None, False),
])
def test_experiments_are_recounted_while_running_and_two_days_after_the_stop(
        status: str, stopped_at: str | None, counted: bool) -> None:
    extra: dict[str, Any] = {"status": status}
    if stopped_at:
        extra["stopped_at"] = stopped_at
    assert still_counted(_experiment(SHOP, **extra), AS_OF) is counted


def test_an_experiment_stopped_long_ago_is_left_as_it_was() -> None:
    objects, store = _shop()
    store.save(_experiment(OTHER, unit="session", status="stopped",
                           stopped_at="2026-11-01T00:00:00+00:00"))
    state = attribution_step({"as_of": AS_OF.isoformat()}, objects, store)
    assert store.exact(OTHER) is None and set(state["attribution"]["experiments"]) == {SHOP}


# -- the live model's click-through rate ----------------------------------------------------
def _ctr_lake() -> MemoryObjectStore:
    """Trailing seven days (15th-21st): 10 items shown in 5 lists, 2 clicked (one twice:
    once counted), CTR 0.2. Yesterday (22nd): 4 shown, 1 clicked, CTR 0.25. Outside both:
    the 14th and the as-of day itself."""
    events: list[dict[str, Any]] = []

    def shown(day: date, lists: int, per_list: int, clicked: list[tuple[int, int]],
              tag: str) -> None:
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        for n in range(lists):
            rid = f"{tag}{n}.20261120-live.personalised"
            for i in range(per_list):
                events.append(_ev("U", f"item{i}", "impression", at, f"{tag}{n}-i{i}",
                                  recommendation_id=rid))
        for n, i in clicked:
            rid = f"{tag}{n}.20261120-live.personalised"
            events.append(_ev("U", f"item{i}", "click", at, f"{tag}{n}-c{i}",
                              recommendation_id=rid))
            events.append(_ev("U", f"item{i}", "click", at + timedelta(seconds=1),
                              f"{tag}{n}-c{i}-again", recommendation_id=rid))

    shown(date(2026, 11, 14), 3, 2, [(0, 0), (1, 0), (2, 0)], "old")
    shown(date(2026, 11, 16), 3, 2, [(0, 1)], "t1")
    shown(date(2026, 11, 21), 2, 2, [(1, 0)], "t2")
    shown(date(2026, 11, 22), 2, 2, [(0, 0)], "y")
    shown(date(2026, 11, 23), 1, 2, [(0, 0), (0, 1)], "today")
    events.append(_ev("U", "item0", "click", datetime(2026, 11, 22, 13, tzinfo=UTC), "plain"))
    objects = MemoryObjectStore()
    queue = MemoryEventQueue()
    assert ingest(events, queue, None, now=NOW_MS + 2 * 86_400_000).accepted == len(events)
    land_messages([(str(i), body) for i, body in enumerate(queue.messages)], objects, NOW_MS)
    return objects


def test_the_ctr_change_compares_yesterday_with_the_seven_days_before() -> None:
    objects = _ctr_lake()
    events = read_attributed(objects, objects.list(layout.EVENTS))
    assert ctr_change(events, AS_OF) == pytest.approx(100 * (0.25 / 0.2 - 1))  # +25 %
    # As of the 22nd: yesterday is the 21st (1 of 4), the week before it the 14th (3 of 6)
    # and the 16th (1 of 6).
    assert ctr_change(events, date(2026, 11, 22)) == pytest.approx(100 * ((1 / 4) / (4 / 12) - 1))


def test_no_ctr_change_without_impressions_on_either_side() -> None:
    objects = _ctr_lake()
    events = read_attributed(objects, objects.list(layout.EVENTS))
    assert ctr_change(events, date(2026, 11, 18)) is None  # nothing shown on the 17th
    assert ctr_change(events, date(2026, 11, 15)) is None  # nothing before the 14th
    assert ctr_change(events, date(2026, 11, 30)) is None  # nothing shown on the 29th


def test_the_step_reports_the_ctr_change() -> None:
    state = attribution_step({"as_of": AS_OF.isoformat()}, _ctr_lake(), MemoryExperimentStore())
    assert state["attribution"]["ctr_change"] == pytest.approx(25.0)
    assert state["attribution"]["experiments"] == {}


# -- the nightly state machine (local runner on moto, the real handlers) ----------------------
class _Unreachable:
    """An experiments table that cannot be read: every call fails."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_: Any, **__: Any) -> Any:
            raise StoreError(f"experiments {name}: unreachable")
        return fail


def test_the_nightly_run_recounts_and_a_failed_recount_leaves_the_run_and_the_model(
        cloud: Any) -> None:
    from recs.stores import wiring

    store = wiring.experiment_store()
    store.create(_experiment(SHOP))
    day = datetime(2026, 11, 20, 13, tzinfo=UTC)
    shown = [
        _ev("A", "lamb", "impression", day, "x1", recommendation_id=CONTROL),
        _ev("A", "lamb", "click", day + timedelta(minutes=1), "x2", recommendation_id=CONTROL),
        _ev("C", "lamb", "impression", day, "x3", recommendation_id=TREATMENT),
        _ev("C", "lamb", "purchase", day + timedelta(minutes=2), "x4",
            recommendation_id=TREATMENT, price=7.25, quantity=2),
    ]
    # One request per event of an arm: ingest counts a request's events concurrently, and
    # moto (unlike DynamoDB) does not serialise two updates of one unit's row.
    for events in (rice_milk_lamb(), *([e] for e in shown), shown[1:2]):  # a click resent
        status, answer = call(cloud, "ingest", api_event("POST", "/events",
                                                         body={"events": events}))
        assert status == 200, answer
    assert cloud.pump_queue() >= 6

    result = cloud.run_batch("2026-11-21")
    assert result["status"] == "SUCCEEDED", result
    output = result["output"]
    assert output["promoted"] is True and "attribution_error" not in output
    assert output["attribution"]["experiments"] == {SHOP: 2}
    exact = store.exact(SHOP)
    assert exact is not None and exact.as_of == "2026-11-21"
    assert exact.totals == store.live_counts(SHOP) == {
        0: VariantCounts(units=1, exposures=1, clicks=1, clicking_units=1),
        1: VariantCounts(units=1, exposures=1, purchasing_units=1, revenue=14.5,
                         revenue_squares=14.5 ** 2)}
    assert sorted(exact.days) == ["2026-11-20"]

    # The recount fails: the run still succeeds, the model it trained is live.
    cloud.module("attribution").experiments = _Unreachable()
    again = cloud.run_batch("2026-11-22")
    assert again["status"] == "SUCCEEDED", again
    output = again["output"]
    assert output["promoted"] is True and "attribution" not in output
    assert output["attribution_error"]["Error"] == "StoreError"
    status, models = call(cloud, "api", api_event("GET", "/models/status"))
    assert status == 200 and models["live_version"] == output["version"]
    assert store.exact(SHOP) == exact  # the last recount stands
