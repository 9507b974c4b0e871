"""What a hostile or careless client sends: refused with a 4xx naming the field, or accepted and
then carried through every later step. Never another exception, never a lost good event.

Known answers for each case the issue lists, then hypothesis over the event and item schemas:
any JSON value in any field is either accepted (and survives the SQS message, the lander's
Parquet, standard JSON and the realtime store) or refused with a ``ValidationError`` naming a
field.
"""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.contracts.events import EVENT_TYPES
from recs.exceptions import ValidationError
from recs.formats import catalog_deltas, event_files
from recs.intake import catalog, validation
from recs.intake.ingest import (
    MAX_BODY_NESTING,
    MAX_MESSAGE_BYTES,
    ingest,
    pack_messages,
    parse_body,
    record_recent,
    shopper_keys,
)
from recs.intake.landing import check_message
from recs.stores.memory import MemoryEventQueue, MemoryRealtimeStore
from tests.conftest import event

NOW = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp() * 1000)
GOOD = event("alice", "sku-1", "view")


def deep(levels: int, leaf: Any = 1) -> Any:
    """``[[[...leaf...]]]`` ``levels`` lists deep, built without recursion."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def deep_json(levels: int) -> str:
    """The JSON text of ``levels`` nested lists: json.dumps itself fails past ~1,000."""
    return "[" * levels + "1" + "]" * levels


def refused(raw: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validation.validate_event(raw, NOW)
    return caught.value


def refused_item(raw: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        catalog.validate_item(raw, NOW)
    return caught.value


# -- known answers: events --------------------------------------------------------------------

@pytest.mark.parametrize("field", ["event_id", "user_id", "session_id", "item_id",
                                   "recommendation_id", "category"])
def test_a_lone_surrogate_in_any_text_field_is_refused_naming_it(field: str) -> None:
    error = refused({**GOOD, field: "sku\ud800"})
    assert error.field == field and "surrogate" in error.reason


@pytest.mark.parametrize("context", [{"page": "\udfff"}, {"\ud800": 1},
                                     {"a": [{"b": ["ok", "\ud800x"]}]}])
def test_a_lone_surrogate_inside_context_is_refused_naming_context(
        context: dict[str, Any]) -> None:
    error = refused({**GOOD, "context": context})
    assert error.field == "context" and "Unicode" in error.reason


@pytest.mark.parametrize("kind", [["view"], {"type": "view"}, ["view", "click"], 3, 2.5, True])
def test_an_event_type_that_is_not_text_is_refused_naming_event_type(kind: Any) -> None:
    error = refused({**GOOD, "event_type": kind})
    assert error.field == "event_type"
    assert error.reason.startswith("must be one of view, click")


FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "1795176000000")  # fullwidth digits


@pytest.mark.parametrize("timestamp", ["²", "¹²³⁴", "١٧٩٥١٧٦٠٠٠٠٠٠", FULLWIDTH,
                                       "2026-11-20T12:00:00²"])
def test_unicode_digits_in_a_timestamp_are_refused(timestamp: str) -> None:
    assert refused({**GOOD, "timestamp": timestamp}).field == "timestamp"


@pytest.mark.parametrize("timestamp", ["1" * 5_000, "9" * 19, 10**300, 10**5_000, 1e300,
                                       "10" + "0" * 300],
                         ids=["5000 digits", "19 digits", "10^300", "10^5000", "1e300",
                              "301 digits"])
def test_digit_strings_and_numbers_far_out_of_range_are_refused(timestamp: Any) -> None:
    assert refused({**GOOD, "timestamp": timestamp}).field == "timestamp"


@pytest.mark.parametrize("timestamp", ["0104-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                                       "9999-12-31T23:59:59-23:59", -1, float("nan"),
                                       float("inf"), "", " ", "NaN", "x" * 100])
def test_times_outside_2000_to_now_or_not_times_are_refused(timestamp: Any) -> None:
    assert refused({**GOOD, "timestamp": timestamp}).field == "timestamp"


@pytest.mark.parametrize("value", [1e309, float("inf"), float("-inf"), float("nan")])
def test_a_number_that_is_not_finite_inside_context_is_refused(value: float) -> None:
    error = refused({**GOOD, "context": {"a": {"b": [value]}}})
    assert error.field == "context" and "/a/b/0" in error.reason


def test_context_nested_deeper_than_the_limit_is_refused_and_at_the_limit_accepted() -> None:
    limit = validation.MAX_NESTING
    error = refused({**GOOD, "context": {"a": deep(limit)}})
    assert error.field == "context" and f"{limit} levels" in error.reason
    accepted = validation.validate_event({**GOOD, "context": {"a": deep(limit - 1)}}, NOW)
    assert json.loads(accepted["context"] or "") == {"a": deep(limit - 1)}


@pytest.mark.parametrize(("change", "field"), [
    ({"price": 10**400}, "price"), ({"price": float("inf")}, "price"),
    ({"quantity": 10**400}, "quantity"), ({"quantity": 2.0}, "quantity"),
    ({"item_id": 10**300}, "item_id"), ({"event_id": ["e"]}, "event_id"),
    ({"user_id": {"id": 1}}, "user_id"), ({"context": [1]}, "context"),
    ({"x" * 10_000: 1}, "x" * validation._ECHO + "..."),
    ({"\ud800": 1}, "\\ud800"),
    ({"timestamp": 1_795_176_000_000.0}, "timestamp"),  # the schema's integer, not a float
    ({"category": 7}, "category"), ({"recommendation_id": 7}, "recommendation_id"),
    ({"category": "a" + "\v" * 300}, "category"),  # counted as sent, as the schema does
])
def test_every_field_is_checked_against_its_type(change: dict[str, Any], field: str) -> None:
    assert refused({**GOOD, **change}).field == field


# -- known answers: request bodies ------------------------------------------------------------

def test_a_body_nested_1200_levels_deep_is_refused_naming_the_body_shape() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_body(deep_json(1_200))
    assert caught.value.field == "events"  # a list, not {"events": [...]}
    entries = parse_body('{"events": ' + deep_json(1_200) + "}")
    assert entries == [deep(MAX_BODY_NESTING - 2, None)]  # cut to null, below the limit


def test_brackets_that_never_pair_past_the_parser_are_not_json() -> None:
    for body in ("[" * 1_200, "[" * 1_200 + "}" * 1_200, '{"events": [' + "{" * 1_200):
        with pytest.raises(ValidationError) as caught:
            parse_body(body)
        assert caught.value.field == "body"


def test_a_mixed_batch_keeps_its_good_events_and_names_each_bad_one() -> None:
    """Every case of the issue in one request, between good events: 207, good ones queued."""
    now_text = "2026-11-22T12:00:00Z"
    good = [event(f"u{n}", f"i{n}", at=datetime(2026, 11, 22, 12, n, tzinfo=UTC))
            for n in range(3)]
    bad = {
        "item_id": '"sku\\ud800"',
        "event_type": '["view"]',
        "event_type ": '{"a": 1}',  # an object, then a list, both named event_type
        "timestamp": '"²"',
        "timestamp ": '"' + "1" * 5_000 + '"',
        "timestamp  ": "1" * 5_000,  # a bare 5,000-digit number: past Python's int limit
        "context": '{"a": ' + deep_json(1_200) + "}",
        "context ": '{"a": 1e309}',
    }
    entries = [json.dumps(e) for e in good[:2]]
    for name, value in bad.items():
        base = json.dumps({**GOOD, "timestamp": now_text, "event_id": f"bad-{len(entries)}"})
        entries.append(base[:-1] + f', "{name.strip()}": {value}}}')
    entries.append(json.dumps(good[2]))
    body = '{"events": [' + ",".join(entries) + "]}"

    queue = MemoryEventQueue()
    result = ingest(parse_body(body), queue, MemoryRealtimeStore(), now=NOW)
    answer = result.to_dict()
    assert (answer["accepted"], answer["rejected"]) == (3, len(bad))
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (2 + n, name.strip()) for n, name in enumerate(bad)]
    assert [e["event_id"] for e in answer["errors"]] == [f"bad-{2 + n}" for n in range(len(bad))]
    queued = [e for body in queue.messages for e in json.loads(body)["events"]]
    assert sorted(e["event_id"] for e in queued) == sorted(e["event_id"] for e in good)


def test_messages_stay_under_the_sqs_limit_even_with_the_longest_events() -> None:
    """A hundred events of 256-character non-ASCII ids are ~1 MB of JSON: cut by size."""
    long_id = "é" * validation.MAX_ID_LENGTH
    events = [validation.validate_event(
        {**GOOD, "event_id": f"{n}{long_id}"[:256], "user_id": long_id, "item_id": long_id,
         "category": long_id, "recommendation_id": long_id, "context": {"t": "é" * 300}},
        NOW) for n in range(100)]
    messages = pack_messages("2026-11-20", events)
    assert len(messages) > 1
    assert all(len(m.encode()) <= MAX_MESSAGE_BYTES for m in messages)
    assert [e for m in messages for e in json.loads(m)["events"]] == events


# -- known answers: catalog items -------------------------------------------------------------

@pytest.mark.parametrize(("change", "field"), [
    ({"category": "food/\ud800"}, "category"),
    ({"title": "Rice \udc00"}, "title"),
    ({"attributes": {"brand": "\ud800"}}, "attributes"),
    ({"attributes": {"a": 1e309}}, "attributes"),
    ({"attributes": {"a": deep(validation.MAX_NESTING)}}, "attributes"),
    ({"created_at": "0104-01-01"}, "created_at"),
    ({"created_at": 10**300}, "created_at"),
    ({"created_at": "²"}, "created_at"),
    ({"created_at": "1" * 5_000}, "created_at"),
    ({"created_at": "2026-11-24T00:00:00Z"}, "created_at"),  # a day ahead: pinned on top
    ({"category": "///"}, "category"),
    ({"price": 10**400}, "price"),
    ({"created_at": 1_795_000_000_000.5}, "created_at"),
    ({"title": 7}, "title"), ({"title": "t" + " " * 512}, "title"),
])
def test_a_bad_catalog_item_is_refused_naming_the_field(change: dict[str, Any],
                                                        field: str) -> None:
    assert refused_item({"item_id": "rice", **change}).field == field


def test_an_item_with_attributes_nested_1200_deep_is_refused_and_its_batch_kept() -> None:
    body = ('{"items": [{"item_id": "a"}, {"item_id": "b", "attributes": {"x": '
            + deep_json(1_200) + '}}, {"item_id": "c", "category": "/food//rice/"}]}')
    result = catalog.validate_items(parse_body(body, key="items"), NOW)
    assert [i["item_id"] for i in result.accepted] == ["a", "c"]
    assert result.accepted[1]["category"] == "food/rice"
    assert [(r.index, r.field, r.item_id) for r in result.rejected] == [(1, "attributes", "b")]


# -- properties -------------------------------------------------------------------------------

TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.integers() | st.floats() | TEXT
           | st.sampled_from(["²", "2026-11-20T12:00:00Z", "1795176000000", *EVENT_TYPES])
           | st.sampled_from([10**400, 1_795_176_000_000, 1e309]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)
# Any JSON, and more often than JSON alone would draw them, values close to valid ones.
VALUES = st.one_of(
    JSON, TEXT, st.text(max_size=300), st.integers(min_value=0, max_value=NOW + 10**9),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.dictionaries(st.text(max_size=8), JSON, max_size=6))
EVENT_FIELDS = sorted(validation._FIELDS)
ITEM_FIELDS = sorted(catalog._FIELDS)


def survives_the_path(accepted: dict[str, Any]) -> None:
    """Accepted means: standard JSON, UTF-8, an SQS message, the lander's Parquet file and the
    realtime store all take it, and it reads back as it went in."""
    stored = {**accepted, "received_at": NOW}
    text = json.dumps(stored, allow_nan=False)  # raises on NaN/Infinity
    text.encode("utf-8")  # raises on a lone surrogate
    (message,) = pack_messages(validation.event_date(stored["ts"]), [stored])
    dt, table = check_message(message)
    read = pq.read_table(io.BytesIO(event_files.encode_table(table))).to_pylist()[0]
    assert read["event_id"] == stored["event_id"] and read["item_id"] == stored["item_id"]
    assert int(read["ts"].timestamp() * 1000) == stored["ts"]
    assert dt == read["ts"].date().isoformat()
    if stored["context"] is not None:
        assert json.loads(read["context"]) == json.loads(stored["context"])
    realtime = MemoryRealtimeStore()
    assert record_recent(realtime, [stored], NOW) == 0
    for key in shopper_keys(stored):
        state = realtime.shoppers[key]
        assert [*state.recent, *state.shown][0] in (
            (stored["item_id"], stored["event_type"], stored["ts"]), stored["item_id"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from([*EVENT_FIELDS, "colour"]), value=VALUES)
def test_any_json_value_in_any_event_field_is_accepted_whole_or_refused_by_name(
        field: str, value: Any) -> None:
    raw = {**GOOD, "timestamp": "2026-11-22T12:00:00Z", field: value}
    try:
        accepted = validation.validate_event(raw, NOW)
    except ValidationError as exc:
        assert exc.field == field
        json.dumps({"field": exc.field, "reason": exc.reason}, allow_nan=False).encode()
        return
    survives_the_path(dict(accepted))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(EVENT_FIELDS) | TEXT, JSON, max_size=12))
def test_any_json_object_as_an_event_is_accepted_whole_or_refused_by_name(
        raw: dict[str, Any]) -> None:
    try:
        accepted = validation.validate_event(raw, NOW)
    except ValidationError as exc:
        assert exc.field in {*EVENT_FIELDS, *(validation.field_name(k) for k in raw)}
        return
    survives_the_path(dict(accepted))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(ITEM_FIELDS), value=VALUES)
def test_any_json_value_in_any_item_field_is_accepted_whole_or_refused_by_name(
        field: str, value: Any) -> None:
    raw = {"item_id": "rice", "title": "Rice", field: value}
    try:
        item = catalog.validate_item(raw, NOW)
    except ValidationError as exc:
        assert exc.field == field
        return
    delta = catalog_deltas.encode_delta([item])
    delta.decode("utf-8")
    folded = catalog_deltas.decode_deltas([delta])[item["item_id"]]
    assert all(folded.get(k) == v for k, v in item.items() if v is not None)
    text = json.dumps(item, allow_nan=False)
    assert json.loads(text) == item
    if item["created_at"] is not None:
        assert validation.EARLIEST_MS <= item["created_at"] <= NOW + 5 * 60_000
    if item["price"] is not None:
        assert math.isfinite(item["price"])


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.just(GOOD), JSON), min_size=1, max_size=6))
def test_any_request_body_gives_an_answer_and_queues_exactly_the_accepted_events(
        entries: list[Any]) -> None:
    entries = [{**e, "event_id": f"e{n}"} if e is GOOD else e for n, e in enumerate(entries)]
    body = json.dumps({"events": entries})
    queue = MemoryEventQueue()
    result = ingest(parse_body(body), queue, MemoryRealtimeStore(), now=NOW)
    assert result.accepted + len(result.rejected) == len(entries)
    queued = [e for m in queue.messages for e in json.loads(m)["events"]]
    assert len(queued) == result.accepted - result.duplicates
    json.dumps(result.to_dict(), allow_nan=False).encode("utf-8")
