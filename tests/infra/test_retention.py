"""What the data bucket's lifecycle rules may delete, the product can do without.

``infra/stack.py`` expires ``interactions/`` and ``models/`` by age
(``bucket_retention``: ``RECS_MODEL_TTL_DAYS`` plus a margin), counted from the day an object
was written. A live model can be older than that (every run since failed or was refused by
the gate), so here its artefacts are deleted as the rule would, on moto, and the nightly
batch must still run, gate and promote, and a rollback still works from the DynamoDB rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from recs.contracts import layout, resources
from tests.conftest import api_event, call, event


def _events(day: date) -> list[dict[str, Any]]:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    rows = [("A", "rice", "purchase"), ("A", "milk", "purchase"), ("A", "lamb", "purchase"),
            ("C", "rice", "purchase"), ("C", "milk", "purchase"), ("B", "tea", "view")]
    return [event(user, item, kind, at=noon + timedelta(minutes=i))
            for i, (user, item, kind) in enumerate(rows)]


def _expire(prefix: str) -> int:
    """Delete every object under ``prefix``, as an S3 expiration rule does."""
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET,
                                                  Prefix=prefix).get("Contents", [])]
    for key in keys:
        s3.delete_object(Bucket=resources.LOCAL_BUCKET, Key=key)
    return len(keys)


@pytest.fixture
def shop(cloud: Any) -> Iterator[Any]:
    start = date(2026, 11, 10)
    for offset in range(3):
        body = {"events": _events(start + timedelta(days=offset))}
        assert call(cloud, "ingest", api_event("POST", "/events", body=body))[0] == 200
    assert cloud.pump_queue() >= 3
    yield cloud


def test_the_batch_promotes_when_the_live_models_artefacts_have_expired(shop: Any) -> None:
    first = shop.run_batch("2026-11-12")["output"]
    assert first["promoted"] is True
    version = first["version"]
    assert _expire(layout.model_prefix(version)) >= 1
    assert _expire(layout.interactions_prefix(version)) >= 1

    second = shop.run_batch("2026-11-13")
    assert second["status"] == "SUCCEEDED", second
    assert second["output"]["promoted"] is True
    assert "live" not in second["output"]["metrics"]  # nothing to compare against


def test_a_rollback_needs_only_the_rows_not_the_artefacts(shop: Any) -> None:
    first = shop.run_batch("2026-11-12")["output"]
    second = shop.run_batch("2026-11-13")["output"]
    assert second["promoted"] is True
    for prefix in (layout.MODELS, layout.INTERACTIONS):
        assert _expire(prefix) >= 2
    status, answer = call(shop, "admin", api_event("POST", f"/models/{first['version']}/promote"))
    assert status == 200 and answer["changed"] is True, answer
    status, answer = call(shop, "api", api_event("GET", "/recommendations", {"user_id": "A"}))
    assert status == 200 and answer["model_version"] == first["version"], answer
