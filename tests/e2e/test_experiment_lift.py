"""The issue's "done when", over the demo's HTTP API: an experiment at 50/50 on users, a
thousand shoppers served once, clicks for 30 % of one arm and 10 % of the other, and within
seconds the results name the right winner on CTR, with no sample-ratio flag."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import demo_server, request

USERS = [f"lift-{n:04d}" for n in range(1000)]
CLICK_SHARE = {"A": 0.10, "B": 0.30}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    # Eight requests at once on two cores and moto: the read budget is the laptop's, not the
    # 300 ms DynamoDB gets in the cloud, so that every shopper is shown a list to click.
    with demo_server("--users", "60", "--simulate", "0",
                     env={"RECS_READ_BUDGET_MS": "5000"}) as url:
        yield url


def _served(url: str, user: str) -> tuple[str, dict[str, Any]]:
    status, body = request(f"{url}/recommendations?user_id={user}&num_items=5")
    assert status == 200, body
    return user, body


def test_the_arm_with_more_clicks_wins_on_ctr_within_seconds(base_url: str) -> None:
    status, experiment = request(f"{base_url}/experiments", "POST", {
        "name": "B against A", "surface": "recommendations", "unit": "user",
        "primary_metric": "ctr", "minimum_detectable_effect": 0.05,
        "variants": [{"name": "A", "weight": 1, "control": True},
                     {"name": "B", "weight": 1}]})
    assert status == 200, experiment
    with ThreadPoolExecutor(8) as pool:
        answers = dict(pool.map(lambda user: _served(base_url, user), USERS))
    for answer in answers.values():
        assert answer["experiment"]["id"] == experiment["id"]
        assert answer["items"], "the demo's trending list fills every answer"

    rng = random.Random(13)
    clicks = []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for user, answer in sorted(answers.items()):
        if rng.random() < CLICK_SHARE[answer["experiment"]["variant"]]:
            item = answer["items"][0]
            clicks.append({"event_id": f"click-{user}", "user_id": user,
                           "item_id": item["item_id"], "event_type": "click",
                           "timestamp": now, "recommendation_id": item["recommendation_id"]})
    # A storefront posts events as they happen, a few at a time: the live counts of a
    # request are written within ingest's wait, and moto takes far longer per write than
    # DynamoDB (what is left over then waits for the nightly recount).
    for start in range(0, len(clicks), 25):
        status, ingested = request(f"{base_url}/events", "POST",
                                   {"events": clicks[start:start + 25]})
        assert status == 200 and ingested["accepted"] == len(clicks[start:start + 25])

    deadline = time.monotonic() + 5
    while True:
        status, report = request(f"{base_url}/experiments/{experiment['id']}")
        assert status == 200, report
        results = report["results"]
        counted = sum(row["clicks"] for row in results["variants"].values())
        if counted == len(clicks) or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert counted == len(clicks)
    units = {name: row["units"] for name, row in results["variants"].items()}
    assert sum(units.values()) == len(USERS)
    assert all(450 <= n <= 550 for n in units.values()), units
    assert results["sample_ratio"]["mismatch"] is False
    ctr = results["comparisons"]["B"]["ctr"]
    assert ctr["difference"] > 0
    assert ctr["p_value"] < 0.001 and ctr["always_valid_p_value"] < 0.001
    assert results["verdict"].startswith("B beats A on CTR"), results["verdict"]


def test_the_same_clicks_posted_again_change_nothing(base_url: str) -> None:
    status, listed = request(f"{base_url}/experiments")
    assert status == 200
    running = [e for e in listed["experiments"] if e["status"] == "running"]
    assert running, "the first test leaves its experiment running"
    experiment_id = running[0]["id"]
    _, before = request(f"{base_url}/experiments/{experiment_id}")
    user = next(u for u in USERS)
    _, answer = request(f"{base_url}/recommendations?user_id={user}&num_items=1")
    click = {"event_id": f"again-{user}", "user_id": user, "event_type": "click",
             "item_id": answer["items"][0]["item_id"],
             "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
             "recommendation_id": answer["items"][0]["recommendation_id"]}
    for _ in range(3):
        status, _ = request(f"{base_url}/events", "POST", {"events": [click]})
        assert status == 200
    _, after = request(f"{base_url}/experiments/{experiment_id}")
    variant = answer["experiment"]["variant"]
    assert (after["results"]["variants"][variant]["clicks"]
            == before["results"]["variants"][variant]["clicks"] + 1)
    assert (after["results"]["variants"][variant]["exposures"]
            == before["results"]["variants"][variant]["exposures"] + 1)
