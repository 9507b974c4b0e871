"""The event contract: what is accepted, and how a rejection names the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recs.exceptions import ValidationError
from recs.intake.validation import event_date, parse_timestamp, validate_event
from tests.conftest import event

NOW = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp() * 1000)


def test_a_valid_event_is_normalised() -> None:
    raw = event("alice", "sku-1", "cart", quantity=2, price=9.5, context={"page": "home"})
    normalised = validate_event(raw, NOW)
    assert normalised["user_id"] == "alice"
    assert normalised["event_type"] == "cart"
    assert normalised["ts"] == int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp() * 1000)
    assert normalised["quantity"] == 2 and normalised["price"] == 9.5
    assert normalised["context"] == '{"page":"home"}'


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": None}, "event_id"),
        ({"item_id": ""}, "item_id"),
        ({"user_id": None}, "user_id"),
        ({"event_type": "like"}, "event_type"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1_763_000_000}, "timestamp"),  # seconds, not milliseconds
        ({"timestamp": "2026-11-23T00:10:00Z"}, "timestamp"),  # 10 minutes in the future
        ({"quantity": 0}, "quantity"),
        ({"price": -1}, "price"),
        ({"context": "mobile"}, "context"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_event_is_rejected_naming_the_field(change: dict, field: str) -> None:
    raw = {**event("alice", "sku-1", "view"), **change}
    with pytest.raises(ValidationError) as caught:
        validate_event(raw, NOW)
    assert caught.value.field == field


def test_a_session_alone_identifies_an_anonymous_shopper() -> None:
    raw = event("x", "sku-1", "view")
    del raw["user_id"]
    raw["session_id"] = "s-1"
    assert validate_event(raw, NOW)["session_id"] == "s-1"


def test_timestamps_in_iso_and_epoch_milliseconds_agree() -> None:
    assert parse_timestamp("2026-11-20T12:00:00Z") == parse_timestamp(1_795_176_000_000)
    assert parse_timestamp("2026-11-20T12:00:00") == 1_795_176_000_000  # naive means UTC


@given(st.integers(min_value=946_684_800_000, max_value=NOW))
def test_event_date_is_the_utc_day(ts: int) -> None:
    day = event_date(ts)
    assert day == datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d")
