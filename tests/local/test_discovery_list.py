"""The discovery list offline and online: ``recs recommend-batch --exclude-seen`` writes what
``GET /recommendations?exclude=seen`` serves, for the same shopper and the same model.

Online: the events go through the local cloud (POST /events, the queue, the lander), the
nightly state machine trains, exports and promotes, and the API answers over HTTP. Offline:
the same events as a file, trained with the same nightly code. The events end three days ago,
outside the realtime horizon, so neither side has a session tier; fewer than 1,000 of them,
so the nightly run does not tune (and the offline one is told not to).
"""

from __future__ import annotations

import csv
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recs_local import sample_data
from recs_local.cloud import in_process
from recs_local.demo import ingest_all
from recs_local.evaluation import commands
from recs_local.server import make_server, serve_in_background

API_KEY = "discovery-key"
NUM_ITEMS = 10


def _get(base_url: str, path: str) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(base_url + path, headers={"x-api-key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_recommend_batch_exclude_seen_is_what_the_api_serves(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = sample_data.generate(users=60, days=4, seed=11, end=now - timedelta(days=3))
    assert 200 < len(events) < 1_000
    history: dict[str, set[str]] = {}
    for e in events:
        history.setdefault(e["user_id"], set()).add(e["item_id"])
    shoppers = sorted(history)[:25]

    path = tmp_path / "events.csv"
    sample_data.write_csv(events, path)
    users = tmp_path / "users.txt"
    users.write_text("\n".join(shoppers) + "\n")
    out = tmp_path / "discovery.csv"
    assert commands.main(["recommend-batch", "--events", str(path), "--users", str(users),
                          "--num-items", str(NUM_ITEMS), "--out", str(out), "--no-tune",
                          "--exclude-seen"]) == 0
    offline: dict[str, list[tuple[str, str]]] = {}
    for row in csv.DictReader(out.open(encoding="utf-8")):
        offline.setdefault(row["user_id"], []).append((row["item_id"], row["reason"]))

    with in_process() as cloud:
        ingest_all(cloud, events)
        cloud.pump_queue()
        result = cloud.run_batch((now + timedelta(days=1)).date().isoformat())
        assert result["status"] == "SUCCEEDED" and result["output"].get("promoted"), result
        assert "skipped" in result["output"]["tuning"]  # trained as configured, as offline
        server = make_server("127.0.0.1", 0, cloud.invoke, api_key=API_KEY)
        serve_in_background(server)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            online = {
                user: [(item["item_id"], item["reason"]) for item in _get(
                    base, f"/recommendations?user_id={user}&num_items={NUM_ITEMS}"
                          "&exclude=seen")["items"]]
                for user in shoppers}
            purchased = {user: [item["item_id"] for item in _get(
                base, f"/recommendations?user_id={user}&num_items={NUM_ITEMS}")["items"]]
                for user in shoppers}
        finally:
            server.shutdown()
            server.server_close()

    assert online == offline
    for user in shoppers:
        assert len(online[user]) == NUM_ITEMS
        assert not {item for item, _ in online[user]} & history[user], user
    # The default list keeps viewed items (the discovery list is another list).
    assert any(set(purchased[user]) & history[user] for user in shoppers)
