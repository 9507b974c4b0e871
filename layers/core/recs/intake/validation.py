"""The behaviour-event contract (docs/architecture.md) and its validation.

Hand-written rather than pydantic: ingest validates up to 500 events per call and the budget is
20,000 events per second per core, and every rejection must name the field and the reason in
words a shop's developer can act on.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Literal, overload

from recs.contracts.events import EVENT_TYPES, Event
from recs.exceptions import ValidationError

MAX_ID_LENGTH = 256
MAX_CONTEXT_BYTES = 2048
FUTURE_TOLERANCE_MS = 5 * 60 * 1000
EARLIEST_MS = 946_684_800_000  # 2000-01-01: anything older is a unit mistake, not history

_EVENT_TYPES = frozenset(EVENT_TYPES)
_FIELDS = frozenset(
    {
        "event_id", "user_id", "session_id", "item_id", "event_type", "timestamp",
        "quantity", "price", "recommendation_id", "category", "context",
    }
)

@overload
def text_field(raw: dict[str, Any], name: str, *, required: Literal[True],
               limit: int = ...) -> str: ...


@overload
def text_field(raw: dict[str, Any], name: str, *, required: bool,
               limit: int = ...) -> str | None: ...


def text_field(raw: dict[str, Any], name: str, *, required: bool,
               limit: int = MAX_ID_LENGTH) -> str | None:
    """A trimmed string (ids may arrive as numbers); absent or blank is None unless required."""
    value = raw.get(name)
    if value is None:
        if required:
            raise ValidationError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(name, "must be a string")
    text = str(value).strip()
    if not text:
        if required:
            raise ValidationError(name, "must not be empty")
        return None
    if len(text) > limit:
        raise ValidationError(name, f"must be at most {limit} characters")
    return text


def price_field(raw: dict[str, Any], name: str = "price") -> float | None:
    """A finite, non-negative number, or None when absent."""
    price = raw.get(name)
    if price is None:
        return None
    if isinstance(price, bool) or not isinstance(price, int | float):
        raise ValidationError(name, "must be a number")
    if not math.isfinite(price) or price < 0:
        raise ValidationError(name, "must be a finite number >= 0")
    return float(price)


def parse_timestamp(value: Any, field: str = "timestamp") -> int:
    """Epoch milliseconds from ISO-8601 text or epoch milliseconds."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(field, "is required (ISO-8601 text or epoch milliseconds)")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValidationError(field, "must be a finite number")
        millis = int(value)
        if 0 < millis < EARLIEST_MS and millis > 10**9 // 2:
            raise ValidationError(field, "looks like epoch seconds; send epoch milliseconds")
        return millis
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_timestamp(int(text), field)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(field, "is not ISO-8601 text or epoch milliseconds") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    raise ValidationError(field, "must be ISO-8601 text or epoch milliseconds")


def validate_event(raw: Any, now_ms: int) -> Event:
    """Normalise one event or raise ``ValidationError`` naming the first bad field."""
    if not isinstance(raw, dict):
        raise ValidationError("event", "must be a JSON object")
    unknown = raw.keys() - _FIELDS
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a known event field")

    event_id = text_field(raw, "event_id", required=True)
    user_id = text_field(raw, "user_id", required=False)
    session_id = text_field(raw, "session_id", required=False)
    if user_id is None and session_id is None:
        raise ValidationError("user_id", "user_id or session_id is required")
    item_id = text_field(raw, "item_id", required=True)

    event_type = raw.get("event_type")
    if event_type not in _EVENT_TYPES:
        raise ValidationError(
            "event_type", f"must be one of {', '.join(EVENT_TYPES)} (got {event_type!r})"
        )

    ts = parse_timestamp(raw.get("timestamp"))
    if ts < EARLIEST_MS:
        raise ValidationError("timestamp", "is before 2000-01-01")
    if ts > now_ms + FUTURE_TOLERANCE_MS:
        raise ValidationError("timestamp", "is more than 5 minutes in the future")

    quantity = raw.get("quantity")
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10_000
    ):
        raise ValidationError("quantity", "must be a whole number from 1 to 10000")

    price = price_field(raw)

    context = raw.get("context")
    context_json: str | None = None
    if context is not None:
        if not isinstance(context, dict):
            raise ValidationError("context", "must be a JSON object")
        context_json = json.dumps(context, separators=(",", ":"), sort_keys=True)
        if len(context_json) > MAX_CONTEXT_BYTES:
            raise ValidationError("context", f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")

    return {
        "event_id": event_id,
        "user_id": user_id,
        "session_id": session_id,
        "item_id": item_id,
        "event_type": event_type,
        "ts": ts,
        "quantity": quantity,
        "price": price,
        "recommendation_id": text_field(raw, "recommendation_id", required=False),
        "category": text_field(raw, "category", required=False),
        "context": context_json,
    }


def event_date(ts_ms: int) -> str:
    """The ``dt=`` partition (UTC date) an event lands in."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
