"""Shared fixtures: known-answer shop data and a local cloud on moto.

Unit tests run with sockets limited to loopback (pytest-socket, see pyproject.toml): nothing
in the suite reaches the network.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
DAY0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def event(user: str, item: str, kind: str = "purchase", at: datetime = DAY0,
          **extra: Any) -> dict[str, Any]:
    """A valid event with a stable id derived from its content."""
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user}/{item}/{kind}/{at.isoformat()}")),
        "user_id": user,
        "item_id": item,
        "event_type": kind,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def rice_milk_lamb() -> list[dict[str, Any]]:
    """A and C both buy rice and milk, A also buys lamb; B browses tea and coffee."""
    t = DAY0
    return [
        event("A", "rice", at=t), event("A", "milk", at=t + timedelta(minutes=1)),
        event("A", "lamb", at=t + timedelta(minutes=2)),
        event("C", "rice", at=t + timedelta(hours=1)),
        event("C", "milk", at=t + timedelta(hours=1, minutes=1)),
        event("B", "tea", "view", at=t + timedelta(hours=2)),
        event("B", "coffee", "view", at=t + timedelta(hours=2, minutes=1)),
    ]


def load_event(name: str) -> dict[str, Any]:
    """A sample Lambda event from ``events/`` (the same files the README points to)."""
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


def api_event(method: str, path: str, query: dict[str, str] | None = None,
              body: Any = None) -> dict[str, Any]:
    from recs_local.server import proxy_event

    raw_path = path
    if query:
        from urllib.parse import urlencode

        raw_path = f"{path}?{urlencode(query)}"
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else (
        body or b"")
    return proxy_event(method, raw_path, {"content-type": "application/json"}, data)


@pytest.fixture
def cloud() -> Iterator[Any]:
    """Every resource of the stack, in moto in-process, with the real handlers."""
    from recs_local.cloud import in_process

    with in_process() as local:
        yield local


def call(cloud: Any, function: str, event: dict[str, Any]) -> tuple[int, Any]:
    """Invoke an HTTP handler; (status, decoded JSON body)."""
    result = cloud.invoke(function, event)
    body = result.get("body")
    return int(result["statusCode"]), (json.loads(body) if body else None)
