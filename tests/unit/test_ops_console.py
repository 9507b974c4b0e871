"""The operator console's data: counted where each fact is known, read back by day.

Health: ingest adds one row update per request (accepted, rejected, duplicates) on the UTC day
it answered, and a failing write never changes the answer; the lander adds the events it
landed and the messages it refused on their first receive. Attribution: the nightly step
stores, per day, model version and tier, the distinct recommended items impressed, clicked,
carted and bought, by hand count. The admin's reports fill the days asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from recs.api.ops import attribution_report, health_report
from recs.batch.attribution import read_attributed, tier_counts
from recs.batch.steps.attribution import attribution_step
from recs.contracts import layout
from recs.contracts.ops import DayHealth, TierCounts, bounded, day_of, last_days, totals
from recs.exceptions import StoreError
from recs.intake.ingest import ingest
from recs.intake.landing import health_counts, land_messages
from recs.stores.memory import (
    MemoryEventQueue,
    MemoryExperimentStore,
    MemoryObjectStore,
    MemoryOpsStore,
    MemoryQueueDepth,
)
from tests.conftest import event

NOW = datetime(2026, 11, 23, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
V1, V2 = "20261120-aaaaaaaaaa", "20261121-bbbbbbbbbb"


class FailingOps(MemoryOpsStore):
    def add_health(self, day: str, counts: Mapping[str, int]) -> None:
        raise StoreError("experiments table: throttled")


# -- health ------------------------------------------------------------------------------------
def test_ingest_adds_one_health_count_per_request_on_the_day_it_answered() -> None:
    ops = MemoryOpsStore()
    fine = event("A", "rice", at=NOW - timedelta(days=3))  # an old event counts today
    bad = {**event("A", "milk"), "event_type": "glance"}
    result = ingest([fine, fine, bad], MemoryEventQueue(), now=NOW_MS, ops=ops)
    ingest([event("B", "tea", at=NOW)], MemoryEventQueue(), now=NOW_MS, ops=ops)
    assert (result.accepted, len(result.rejected), result.duplicates) == (2, 1, 1)
    assert ops.health_rows == {"2026-11-23": {"accepted": 3, "rejected": 1, "duplicates": 1}}


def test_a_failing_health_count_never_changes_the_answer() -> None:
    queue = MemoryEventQueue()
    result = ingest([event("A", "rice", at=NOW)], queue, now=NOW_MS, ops=FailingOps())
    assert result.to_dict() == {"accepted": 1, "rejected": 0, "duplicates": 0, "errors": []}
    assert len(queue.messages) == 1


def test_a_request_with_nothing_valid_or_invalid_counts_nothing() -> None:
    ops = MemoryOpsStore()
    ingest([], MemoryEventQueue(), now=NOW_MS, ops=ops)
    assert ops.health_rows == {}


def test_the_lander_counts_landed_events_and_refusals_on_their_first_receive() -> None:
    queue = MemoryEventQueue()
    ingest([event("A", "rice", at=NOW), event("B", "tea", at=NOW - timedelta(days=1))],
           queue, now=NOW_MS)
    messages = [(f"m{i}", body) for i, body in enumerate(queue.messages)]
    messages += [("poison-new", "not json"), ("poison-again", "{}")]
    landing = land_messages(messages, MemoryObjectStore(), NOW_MS)
    first_receipts = {"m0", "m1", "poison-new"}  # poison-again is on its second receive
    assert health_counts(landing, first_receipts) == {"landed": 2, "quarantined": 1}


def test_the_health_report_fills_every_day_oldest_first_with_the_queue_depth() -> None:
    ops = MemoryOpsStore()
    ops.add_health("2026-11-21", {"accepted": 9, "rejected": 1, "landed": 9})
    ops.add_health("2026-11-23", {"accepted": 4, "quarantined": 2})
    report = health_report(ops, MemoryQueueDepth(3), NOW.date(), 3)
    assert report["dead_letters"] == 3
    assert [(d["day"], d["accepted"], d["rejected_share"]) for d in report["days"]] == [
        ("2026-11-21", 9, 0.1), ("2026-11-22", 0, None), ("2026-11-23", 4, 0.0)]
    assert report["days"][2]["quarantined"] == 2


def test_an_unanswering_dead_letter_queue_leaves_its_depth_unknown() -> None:
    class Down:
        def depth(self) -> int:
            raise StoreError("sqs: timed out")

    report = health_report(MemoryOpsStore(), Down(), NOW.date(), 1)
    assert report == {"days": [DayHealth("2026-11-23").to_dict()], "dead_letters": None}


def test_days_and_unknown_counts() -> None:
    assert last_days(date(2026, 3, 1), 3) == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert day_of(NOW_MS) == "2026-11-23"
    with pytest.raises(ValueError, match="not health counts"):
        MemoryOpsStore().add_health("2026-11-23", {"clicks": 1})


# -- attribution by version and tier -----------------------------------------------------------
def _lake() -> MemoryObjectStore:
    """Day 21: V1's personalised list shows rice and tea, rice is clicked twice (one pair),
    carted and bought; V2's trending list shows milk. Day 22: V2's session list shows rice,
    clicked. A garbled id and an event without one. The as-of day (23rd) is not counted."""
    day21, day22 = NOW - timedelta(days=2), NOW - timedelta(days=1)

    def shown(rid: str, item: str, kind: str, at: datetime, n: int) -> dict[str, Any]:
        return {**event("U", item, kind, at + timedelta(seconds=n)), "event_id": f"e{n}",
                "recommendation_id": rid}

    p1, t2, s2 = f"r1.{V1}.personalised", f"r2.{V2}.trending", f"r3.{V2}.session"
    events = [shown(p1, "rice", "impression", day21, 1), shown(p1, "tea", "impression", day21, 2),
              shown(p1, "rice", "click", day21, 3), shown(p1, "rice", "click", day21, 4),
              shown(p1, "rice", "cart", day21, 5), shown(p1, "rice", "purchase", day21, 6),
              shown(p1, "rice", "view", day21, 7),  # not an outcome counted here
              shown(t2, "milk", "impression", day21, 8),
              shown(s2, "rice", "impression", day22, 9), shown(s2, "rice", "click", day22, 10),
              shown("r4.garbage!.weird", "tea", "click", day22, 11),
              {**event("U", "tea", "click", day22), "event_id": "plain"},
              shown(s2, "tea", "impression", NOW, 12)]
    objects, queue = MemoryObjectStore(), MemoryEventQueue()
    assert ingest(events, queue, now=NOW_MS + 3_600_000).accepted == len(events)
    land_messages([(str(i), body) for i, body in enumerate(queue.messages)], objects, NOW_MS)
    return objects


def test_attribution_by_day_version_and_tier_is_the_hand_count() -> None:
    objects = _lake()
    events = read_attributed(objects, objects.list(layout.EVENTS))
    days = tier_counts(events, date(2026, 11, 20), date(2026, 11, 22))
    assert days == {
        "2026-11-20": [],
        "2026-11-21": [TierCounts(V1, "personalised", impressions=2, clicks=1, carts=1,
                                  purchases=1),
                       TierCounts(V2, "trending", impressions=1)],
        "2026-11-22": [TierCounts(V2, "session", impressions=1, clicks=1),
                       TierCounts("other", "other", clicks=1)],
    }
    assert days["2026-11-21"][0].to_dict()["ctr"] == 0.5
    assert days["2026-11-21"][0].conversion == 1.0


def test_the_nightly_step_stores_the_eight_days_before_its_run() -> None:
    ops = MemoryOpsStore()
    attribution_step({"as_of": "2026-11-23"}, _lake(), MemoryExperimentStore(), ops)
    assert sorted(ops.attribution_rows) == last_days(date(2026, 11, 22), 8)
    report = attribution_report(ops, NOW.date(), 14)
    assert [(c["version"], c["tier"], c["impressions"], c["clicks"])
            for c in report["totals"]] == [(V2, "session", 1, 1), (V2, "trending", 1, 0),
                                           (V1, "personalised", 2, 1), ("other", "other", 0, 1)]
    assert json.loads(json.dumps(report)) == report


def test_a_failing_attribution_write_leaves_the_recount_standing() -> None:
    class Down(MemoryOpsStore):
        def put_attribution(self, days: Mapping[str, Any]) -> None:
            raise StoreError("experiments table: throttled")

    state = attribution_step({"as_of": "2026-11-23"}, _lake(), MemoryExperimentStore(), Down())
    assert state["attribution"]["attributed_events"] == 11  # the as-of day is not read


def test_ids_count_under_bounded_versions_and_tiers() -> None:
    assert bounded(V1, "session") == (V1, "session")
    assert bounded("none", "trending") == ("none", "trending")
    assert bounded("v1; drop table", "x" * 300) == ("other", "other")
    assert bounded("", "") == ("none", "none")
    summed = totals([TierCounts(V1, "session", 4, 1), TierCounts(V1, "session", 6, 1, 0, 1)])
    assert summed == [TierCounts(V1, "session", 10, 2, 0, 1)]
    assert summed[0].ctr == 0.2 and TierCounts(V1, "session").ctr is None


# -- the page's address on the local server ----------------------------------------------------
def test_the_local_server_serves_the_console_at_ops_with_its_slash() -> None:
    from recs_local.storefront import Storefront

    front = Storefront("key")
    moved = front.answer("GET", "/ops", "127.0.0.1:8000")
    assert moved is not None and (moved.status, moved.headers["Location"]) == (301, "/ops/")
    page = front.answer("GET", "/ops/", "127.0.0.1:8000")
    assert page is not None and page.status == 200 and b'id="live-version"' in page.body
    assert front.answer("GET", "/nowhere", None) is None  # the API's 404
    assert front.answer("GET", "/ops/../../README.md", None) is None
