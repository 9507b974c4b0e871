"""The behaviour-event contract (docs/architecture.md) and its validation.

Hand-written rather than pydantic: ingest validates up to 500 events per call and the budget is
20,000 events per second per core, and every rejection must name the field and the reason in
words a shop's developer can act on.

Validation happens once, here, and whatever it accepts must survive the rest of the path
unchanged: the SQS message (JSON), the lander's Parquet file, the realtime table and the
nightly batch. So every string must be encodable as UTF-8 (JSON parsing lets a lone surrogate
such as ``"\\ud800"`` through, and pyarrow refuses it later), every number finite (``1e309``
parses as infinity, which JSON cannot write back), every nested object shallow enough to
decode again, and every time inside the range the rest of the code can convert.
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
# Levels of objects and lists inside ``context`` (and a catalog item's ``attributes``): free
# JSON for the shop's own use, which readers decode again, so it must stay shallow.
MAX_NESTING = 32
FUTURE_TOLERANCE_MS = 5 * 60 * 1000
EARLIEST_MS = 946_684_800_000  # 2000-01-01: anything older is a unit mistake, not history
# The longest time text worth parsing: ISO-8601 with microseconds and an offset is 32.
MAX_TIME_TEXT = 64
# Epoch milliseconds need 13 digits until the year 2286; longer digit strings are not times
# (and past 4,300 digits ``int`` refuses to convert them at all).
MAX_TIME_DIGITS = 18
# How much of a rejected value an error message repeats.
_ECHO = 64

_EVENT_TYPES = frozenset(EVENT_TYPES)
_FIELDS = frozenset(
    {
        "event_id", "user_id", "session_id", "item_id", "event_type", "timestamp",
        "quantity", "price", "recommendation_id", "category", "context",
    }
)


def encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates): JSON decoding accepts
    ``"\\ud800"``, while Parquet, DynamoDB and S3 keys cannot store it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_name(name: str) -> str:
    """A client's key, safe to repeat in an error: bounded, and encodable."""
    shown = name if len(name) <= _ECHO else name[:_ECHO] + "..."
    return shown if encodable(shown) else shown.encode("utf-8", "backslashreplace").decode()


def echo_id(value: Any) -> str | None:
    """A rejected entry's id as an answer may repeat it: only a short, valid id, else None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, int):
        return str(value) if _digits_at_most(value, MAX_ID_LENGTH) else None
    text = value.strip()
    return text if text and len(text) <= MAX_ID_LENGTH and encodable(text) else None


def _digits_at_most(value: int, digits: int) -> bool:
    """Cheaply, whether an integer has at most ``digits`` digits (without ``str``, which
    refuses integers past 4,300 digits)."""
    if value.bit_length() <= 3 * digits:  # 2**(3d) < 10**d
        return True
    return value.bit_length() <= 4 * digits and len(str(abs(value))) <= digits


@overload
def text_field(raw: dict[str, Any], name: str, *, required: Literal[True],
               limit: int = ..., whole_numbers: bool = ...) -> str: ...


@overload
def text_field(raw: dict[str, Any], name: str, *, required: bool,
               limit: int = ..., whole_numbers: bool = ...) -> str | None: ...


def text_field(raw: dict[str, Any], name: str, *, required: bool,
               limit: int = MAX_ID_LENGTH, whole_numbers: bool = False) -> str | None:
    """A trimmed string; absent or blank is None unless required. Ids may arrive as whole
    numbers (``whole_numbers``), as their schema says; other text may not."""
    value = raw.get(name)
    if value is None:
        if required:
            raise ValidationError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or (
            isinstance(value, int) and not whole_numbers):
        raise ValidationError(name, "must be a string" + (" or a whole number"
                                                          if whole_numbers else ""))
    if (isinstance(value, int) and not _digits_at_most(value, limit)) or (
            isinstance(value, str) and len(value) > limit):  # as sent, as the schema counts
        raise ValidationError(name, f"must be at most {limit} characters")
    text = str(value).strip()
    if not text:
        if required:
            raise ValidationError(name, "must not be empty")
        return None
    if len(text) > limit:
        raise ValidationError(name, f"must be at most {limit} characters")
    if not encodable(text):
        raise ValidationError(name, "is not valid Unicode text (it holds a lone surrogate)")
    return text


def price_field(raw: dict[str, Any], name: str = "price") -> float | None:
    """A finite, non-negative number, or None when absent."""
    price = raw.get(name)
    if price is None:
        return None
    if isinstance(price, bool) or not isinstance(price, int | float):
        raise ValidationError(name, "must be a number")
    try:
        value = float(price)  # an integer past 1e308 overflows here
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise ValidationError(name, "must be a finite number >= 0")
    return value


def parse_timestamp(value: Any, field: str = "timestamp") -> int:
    """Epoch milliseconds from ISO-8601 text or epoch milliseconds.

    The result is not range-checked (``time_field`` does that), but whatever the input, this
    either returns an ``int`` or raises ``ValidationError``: no ``OverflowError`` from a
    huge number, no ``ValueError`` from Unicode digits such as ``"²"`` that ``str.isdigit``
    accepts and ``int`` refuses, or from a digit string past Python's 4,300-digit limit.
    """
    if isinstance(value, bool) or value is None:
        raise ValidationError(field, "is required (ISO-8601 text or epoch milliseconds)")
    if isinstance(value, int | float):
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationError(field, "must be a finite number")
            value = int(value)
        millis = value
        if 0 < millis < EARLIEST_MS and millis > 10**9 // 2:
            raise ValidationError(field, "looks like epoch seconds; send epoch milliseconds")
        return millis
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TIME_TEXT or not text.isascii():
            raise ValidationError(field, "is not ISO-8601 text or epoch milliseconds")
        if text.isdigit():  # ASCII digits only, checked above
            if len(text) > MAX_TIME_DIGITS:
                raise ValidationError(field, "is not a time: too many digits")
            return parse_timestamp(int(text), field)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
        except (ValueError, OverflowError) as exc:
            raise ValidationError(field, "is not ISO-8601 text or epoch milliseconds") from exc
    raise ValidationError(field, "must be ISO-8601 text or epoch milliseconds")


def time_field(value: Any, field: str, now_ms: int) -> int:
    """A time from 2000-01-01 up to five minutes from now, in epoch milliseconds.

    Earlier is a unit mistake, later a clock mistake; and every time in this range converts
    to a date, a Parquet timestamp and a position in the newest-first lists.
    """
    if isinstance(value, float):  # the contract's epoch milliseconds are whole numbers
        raise ValidationError(field, "must be ISO-8601 text or whole epoch milliseconds")
    millis = parse_timestamp(value, field)
    if millis < EARLIEST_MS:
        raise ValidationError(field, "is before 2000-01-01")
    if millis > now_ms + FUTURE_TOLERANCE_MS:
        raise ValidationError(field, "is more than 5 minutes in the future")
    return millis


def json_object_field(raw: dict[str, Any], name: str, max_bytes: int) -> str | None:
    """A free JSON object as compact, sorted JSON text, or None when absent.

    Refused, naming ``name`` and where inside it: anything but an object; nesting deeper than
    ``MAX_NESTING``; a string (key or value) that is not valid Unicode; a number that is not
    finite; more than ``max_bytes`` of JSON. Checked without recursion, so no depth the JSON
    parser let through can raise ``RecursionError`` here.
    """
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(name, "must be a JSON object")
    _check_tree(value, name)
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    if len(text) > max_bytes:
        raise ValidationError(name, f"must be at most {max_bytes} bytes as JSON")
    return text


def _check_tree(root: dict[str, Any], name: str) -> None:
    stack: list[tuple[Any, int, str]] = [(root, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_NESTING:
                raise ValidationError(name, f"is nested deeper than {MAX_NESTING} levels")
            for key, child in node.items():
                if not encodable(key):
                    raise ValidationError(
                        name, f"holds a key that is not valid Unicode text at {path or '/'}")
                stack.append((child, depth + 1, f"{path}/{field_name(key)}"))
        elif isinstance(node, list):
            if depth > MAX_NESTING:
                raise ValidationError(name, f"is nested deeper than {MAX_NESTING} levels")
            stack.extend((child, depth + 1, f"{path}/{n}") for n, child in enumerate(node))
        elif isinstance(node, str):
            if not encodable(node):
                raise ValidationError(
                    name, f"holds text that is not valid Unicode (a lone surrogate) at {path}")
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValidationError(name, f"holds a number that is not finite at {path}")


def validate_event(raw: Any, now_ms: int) -> Event:
    """Normalise one event or raise ``ValidationError`` naming the first bad field."""
    if not isinstance(raw, dict):
        raise ValidationError("event", "must be a JSON object")
    unknown = raw.keys() - _FIELDS
    if unknown:
        raise ValidationError(field_name(sorted(unknown)[0]), "is not a known event field")

    event_id = text_field(raw, "event_id", required=True, whole_numbers=True)
    user_id = text_field(raw, "user_id", required=False, whole_numbers=True)
    session_id = text_field(raw, "session_id", required=False, whole_numbers=True)
    if user_id is None and session_id is None:
        raise ValidationError("user_id", "user_id or session_id is required")
    item_id = text_field(raw, "item_id", required=True, whole_numbers=True)

    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or event_type not in _EVENT_TYPES:
        got = (repr(event_type) if isinstance(event_type, str) and len(event_type) <= _ECHO
               and encodable(event_type) else f"a {type(event_type).__name__}")
        raise ValidationError("event_type", f"must be one of {', '.join(EVENT_TYPES)} (got {got})")

    ts = time_field(raw.get("timestamp"), "timestamp", now_ms)

    quantity = raw.get("quantity")
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10_000
    ):
        raise ValidationError("quantity", "must be a whole number from 1 to 10000")

    price = price_field(raw)
    context = json_object_field(raw, "context", MAX_CONTEXT_BYTES)

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
        "context": context,
    }


def event_date(ts_ms: int) -> str:
    """The ``dt=`` partition (UTC date) an event lands in."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
