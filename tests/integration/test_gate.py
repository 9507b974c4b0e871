"""The promotion gate inside the real state machine: a worse candidate is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from recs.batch.config import BatchConfig
from tests.conftest import api_event, call, event

DAY1 = datetime(2026, 11, 20, 10, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def shop_events() -> list[dict[str, Any]]:
    """Day 1: shoppers who view x_j buy y_j; many distractor items are more popular.
    Day 2 (the hold-out of the second run): known shoppers complete the same pairs."""
    events = []
    for k in range(40):
        j = k % 5
        events += [event(f"a{k}", f"x{j}", "view", DAY1 + timedelta(minutes=k)),
                   event(f"a{k}", f"y{j}", "purchase", DAY1 + timedelta(minutes=k, seconds=30))]
        events += [event(f"a{k}", f"pop{p}", "view", DAY1 + timedelta(minutes=k, seconds=p + 31))
                   for p in range(25)]
        events.append(event(f"b{k}", f"x{j}", "view", DAY1 + timedelta(hours=2, minutes=k)))
        events.append(event(f"b{k}", f"y{j}", "purchase", DAY2 + timedelta(minutes=k)))
    return events


def post_all(cloud: Any, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 500):
        body = {"events": events[start:start + 500]}
        assert call(cloud, "ingest", api_event("POST", "/events", body=body))[0] == 200
    cloud.pump_queue()


def test_a_deliberately_worse_candidate_is_refused_and_live_keeps_serving(cloud: Any) -> None:
    post_all(cloud, shop_events())
    first = cloud.run_batch("2026-11-21")  # trains on day 1; no hold-out history to compare
    assert first["status"] == "SUCCEEDED" and first["output"]["promoted"] is True
    live = first["output"]["version"]

    # The next night's candidate is configured badly: plain popularity, no tuning.
    cloud.module("train").config = BatchConfig(algorithm="popularity", tuning_seconds=0)
    second = cloud.run_batch("2026-11-22")
    assert second["status"] == "SUCCEEDED"
    output = second["output"]
    assert output["gate"]["ok"] is False and output["promoted"] is False
    assert output["metrics"]["candidate"]["ndcg"] < output["metrics"]["live"]["ndcg"]
    assert "model_key" in output and "rows_written" not in output["counts"]  # not exported

    status, answer = call(cloud, "api", api_event("GET", "/models/status"))
    assert status == 200 and answer["live_version"] == live
    rejected = next(v for v in answer["recent"] if v["version"] == output["version"])
    assert rejected["status"] == "rejected" and "worse than live" in rejected["reason"]
    status, recs = call(cloud, "api", api_event("GET", "/recommendations", {"user_id": "b3"}))
    assert recs["model_version"] == live


def test_a_good_candidate_passes_the_gate(cloud: Any) -> None:
    post_all(cloud, shop_events())
    assert cloud.run_batch("2026-11-21")["output"]["promoted"] is True
    second = cloud.run_batch("2026-11-22")["output"]
    assert second["gate"]["ok"] is True, second["gate"]
    assert second["promoted"] is True
    assert second["metrics"]["candidate"]["ndcg"] > 0
