"""Accept a batch of behaviour events: validate each, enqueue the good ones, report the bad.

Events are grouped by their ``dt`` partition before they are packed into SQS messages, so the
lander writes every message to exactly one partition file and a failed write retries only
the messages that belong to it.

Once SQS has taken the messages the events are safe, and the request is answered 2xx whatever
happens next: the realtime store is written after, best effort and within a time budget.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from recs.contracts import keys
from recs.contracts.events import EXPOSURES, Event
from recs.contracts.ops import day_of
from recs.exceptions import PartlyEnqueued, PayloadTooLarge, ValidationError
from recs.intake.attribution import attribution_tasks
from recs.intake.validation import echo_id, event_date, validate_event
from recs.stores.ports import (
    RECENT_LIMIT,
    SHOWN_LIMIT,
    EventQueue,
    ExperimentStore,
    OpsStore,
    RealtimeStore,
)

logger = logging.getLogger(__name__)

MAX_EVENTS = 500
REALTIME_WRITERS = 16
# Only events this recent reach the realtime store: it serves the shopper's current visit,
# and a backfill of last month's history would only cost writes.
REALTIME_HORIZON_MS = 2 * 86_400_000
# How long a request waits for its realtime writes once SQS has its events; writes still
# running then finish (or fail) without holding the answer.
REALTIME_WAIT_S = 3.0
MAX_BODY_BYTES = 1_000_000
EVENTS_PER_MESSAGE = 100
# SQS refuses a message over 256 KiB. A hundred events of long non-ASCII ids (escaped in
# JSON as six bytes a character) would pass that, so messages are cut by size too.
MAX_MESSAGE_BYTES = 200_000
# Levels of nesting the request body may have before the parser is spared the rest: JSON
# deeper than about a thousand levels makes Python's parser raise ``RecursionError``.
MAX_BODY_NESTING = 64


@dataclass
class Rejection:
    index: int
    field: str
    reason: str
    event_id: str | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # The events the queue took, each once: what the request's metrics count (not answered).
    stored: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": len(self.rejected),
            "duplicates": self.duplicates,
            "errors": [r.__dict__ for r in self.rejected],
        }


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_body(body: str | bytes | None, key: str = "events", limit: int = MAX_EVENTS) -> list[Any]:
    """The ``key`` list of a request body, or an error naming what is wrong with it.

    The entries are not checked here, so one bad entry costs only itself: each is validated
    on its own and reported by index.
    """
    if body is None or body in ("", b""):
        raise ValidationError("body", f'is empty; send {{"{key}": [...]}}')
    size = len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    payload = load_json(body)
    if not isinstance(payload, dict) or key not in payload:
        raise ValidationError(key, f'is required: send {{"{key}": [...]}}')
    entries = payload[key]
    if not isinstance(entries, list):
        raise ValidationError(key, "must be a list")
    if not entries:
        raise ValidationError(key, "must not be empty")
    if len(entries) > limit:
        raise PayloadTooLarge(f"{len(entries)} {key} in one request; the limit is {limit}")
    return entries


def load_json(body: str | bytes) -> Any:
    """Parse a request body, whatever a client sends, into values the validators can judge.

    - An integer literal longer than Python converts (4,300 digits) becomes infinity, which
      every numeric field refuses by name, instead of failing the whole body.
    - ``NaN`` and ``Infinity`` parse as floats, which the validators refuse by name.
    - Nesting past ``MAX_BODY_NESTING`` levels is cut (the part below becomes ``null``) when
      it is deep enough to make the parser raise ``RecursionError``: nothing that deep is
      valid, and the field holding it is refused for its depth or type, naming itself, while
      the other entries of the request are judged as usual.
    """
    try:
        try:
            return json.loads(body)
        except ValueError as exc:  # perhaps only an integer too long for ``int``
            try:
                return _load_hostile(body)
            except ValueError:
                raise exc from None
        except RecursionError:
            return _load_hostile(body)
    except RecursionError as exc:
        raise ValidationError("body", "is nested too deeply") from exc
    except ValueError as exc:  # UnicodeDecodeError too
        raise ValidationError("body", f"is not valid JSON ({_short(exc)})") from exc


def _load_hostile(body: str | bytes) -> Any:
    """The slow way, for what the plain parse refused: long integers, deep nesting."""
    try:
        return json.loads(body, parse_int=_int)
    except RecursionError:
        return json.loads(_cut_deep(body), parse_int=_int)


def _int(text: str) -> int | float:
    if len(text) > sys.get_int_max_str_digits():
        return -float("inf") if text.startswith("-") else float("inf")
    return int(text)


def _short(exc: Exception) -> str:
    message = str(exc)
    return message if len(message) <= 200 else message[:200] + "..."


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_CLOSE = {"]": "[", "}": "{"}


def _cut_deep(body: str | bytes) -> str:
    """``body`` with every object or list below ``MAX_BODY_NESTING`` levels replaced by null.

    A scan over strings and brackets only; brackets must pair (else the body is not JSON),
    and anything else malformed is left for the parser to find.
    """
    text = body if isinstance(body, str) else body.decode(json.detect_encoding(body))
    pieces: list[str] = []
    opened: list[str] = []
    kept = 0  # the end of the text copied so far
    cut_from = -1  # where the part being cut began, while inside it
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            opened.append(token)
            if len(opened) == MAX_BODY_NESTING + 1:
                cut_from = match.start()
            continue
        if not opened or opened.pop() != _CLOSE[token]:
            raise ValidationError("body", "is not valid JSON (its brackets do not pair)")
        if len(opened) == MAX_BODY_NESTING and cut_from >= 0:
            pieces += [text[kept:cut_from], "null"]
            kept, cut_from = match.end(), -1
    if opened:
        raise ValidationError("body", "is not valid JSON (a bracket is never closed)")
    return "".join(pieces) + text[kept:]


def ingest(
    raw_events: list[Any],
    queue: EventQueue,
    realtime: RealtimeStore | None = None,
    now: int | None = None,
    deadline: float | None = None,
    experiments: ExperimentStore | None = None,
    ops: OpsStore | None = None,
) -> IngestResult:
    """Validate, deduplicate within the batch, enqueue, then update the realtime store and
    the live counts of experiments (events whose recommendation id names an arm).

    Raises only if enqueueing fails for every message: the queue is the durable record.
    When it takes some messages and not others, the events of those it did not take are
    reported as rejected (field ``event``), so the answer is 207 and the client resends only
    them; an event the queue took is never answered with an error. The realtime store is
    best effort (a failure there costs freshness, not data), so it is written second, and
    nothing it does changes the answer: writes still running at ``deadline`` (a
    ``time.monotonic()`` instant), or ``REALTIME_WAIT_S`` after the enqueue, are left to
    finish on their own. The experiment counts are written beside it on the same terms: a
    count lost there is restored by the nightly recount from the lake. The day's health
    count (``ops``: one write per request) goes beside them too; one lost there stays lost.
    """
    now = now_ms() if now is None else now
    result = IngestResult()
    by_date: dict[str, list[Event]] = {}
    positions: dict[str, list[int]] = {}  # event id -> where it came in the request
    for index, raw in enumerate(raw_events):
        try:
            event = validate_event(raw, now)
        except ValidationError as exc:
            event_id = echo_id(raw.get("event_id")) if isinstance(raw, dict) else None
            result.rejected.append(Rejection(index, exc.field, exc.reason, event_id))
            continue
        result.accepted += 1
        if event["event_id"] in positions:
            result.duplicates += 1
            positions[event["event_id"]].append(index)
            continue
        positions[event["event_id"]] = [index]
        event["received_at"] = now
        by_date.setdefault(event_date(event["ts"]), []).append(event)
    messages = [message for dt, events in sorted(by_date.items())
                for message in _pack(dt, events)]
    sent = [events for _, events in messages]
    if messages:
        try:
            queue.send([body for body, _ in messages])
        except PartlyEnqueued as exc:
            unsent = set(exc.unsent)
            sent = [events for n, (_, events) in enumerate(messages) if n not in unsent]
            _not_stored(result, [messages[n][1] for n in exc.unsent], positions)
            logger.warning("%d of %d messages not enqueued: %s", len(exc.unsent),
                           len(messages), type(exc.__cause__ or exc).__name__)
    result.stored = [e for events in sent for e in events]
    tasks: dict[str, Callable[[], object]] = {}
    if realtime is not None:
        horizon = now - REALTIME_HORIZON_MS
        fresh = [e for events in sent for e in events if e["ts"] >= horizon]
        tasks.update(realtime_tasks(realtime, fresh, now))
    if experiments is not None:
        tasks.update(attribution_tasks(experiments, [e for events in sent for e in events],
                                       now))
    if ops is not None and (result.accepted or result.rejected):
        tasks["health"] = functools.partial(ops.add_health, day_of(now), {
            "accepted": result.accepted, "rejected": len(result.rejected),
            "duplicates": result.duplicates})
    if tasks:
        wait_until = time.monotonic() + REALTIME_WAIT_S
        try:
            run_writes(tasks, wait_until if deadline is None else min(deadline, wait_until))
        except Exception as exc:  # the events are queued: the answer stays 2xx
            logger.warning("realtime update failed: %s", type(exc).__name__)
    return result


def _not_stored(result: IngestResult, unsent: list[list[Event]],
                positions: dict[str, list[int]]) -> None:
    """Report the events of messages the queue did not take as rejected, each where it came
    in the request, so the client resends exactly those (the others are safe)."""
    for events in unsent:
        for event in events:
            where = positions[event["event_id"]]
            result.accepted -= len(where)
            result.duplicates -= len(where) - 1
            result.rejected += [Rejection(index, "event", "was not stored (the queue did not "
                                          "take it); send it again", event["event_id"])
                                for index in where]
    result.rejected.sort(key=lambda r: r.index)


def pack_messages(dt: str, events: list[Event]) -> list[str]:
    """SQS message bodies ``{"dt": ..., "events": [...]}`` of one date: at most
    ``EVENTS_PER_MESSAGE`` events and ``MAX_MESSAGE_BYTES`` bytes each (JSON escapes all but
    ASCII, so characters are bytes). A message over the size is split in two until it fits;
    one event is at most about 12 KB, so every message does."""
    return [body for body, _ in _pack(dt, events)]


def _pack(dt: str, events: list[Event]) -> list[tuple[str, list[Event]]]:
    """``pack_messages``, each body with the events it holds."""
    messages: list[tuple[str, list[Event]]] = []
    pending = [events[start:start + EVENTS_PER_MESSAGE]
               for start in range(0, len(events), EVENTS_PER_MESSAGE)]
    while pending:
        chunk = pending.pop(0)
        body = json.dumps({"dt": dt, "events": chunk}, separators=(",", ":"))
        if len(body) > MAX_MESSAGE_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        messages.append((body, chunk))
    return messages


def shopper_keys(event: Event) -> list[str]:
    """The realtime keys an event updates: the user's, and the session's."""
    return keys.shopper_keys(event["user_id"], event["session_id"])


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    """One pool per process, so a request never waits for threads to start or stop."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(REALTIME_WRITERS, thread_name_prefix="realtime")
        return _pool


def record_recent(realtime: RealtimeStore, events: list[Event], now_ms: int,
                  deadline: float | None = None) -> int:
    """Append each shopper's events to their realtime state: one write per shopper, each
    entry with its event id so that a retried request appends nothing twice.

    Returns how many shoppers' writes failed or were not done at ``deadline``: those not
    started by then are dropped, those running are left to finish on their own.
    """
    return run_writes(realtime_tasks(realtime, events, now_ms), deadline)


def realtime_tasks(realtime: RealtimeStore, events: list[Event],
                   now_ms: int) -> dict[str, Callable[[], object]]:
    """One write per shopper (by key) appending the shopper's events to its state."""
    recent: dict[str, list[tuple[str, str, int]]] = {}
    recent_ids: dict[str, list[str]] = {}
    shown: dict[str, list[str]] = {}
    shown_ids: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda e: e["ts"]):
        for key in shopper_keys(event):
            if event["event_type"] in EXPOSURES:
                shown.setdefault(key, []).append(event["item_id"])
                shown_ids.setdefault(key, []).append(event["event_id"])
            else:
                recent.setdefault(key, []).append(
                    (event["item_id"], event["event_type"], event["ts"]))
                recent_ids.setdefault(key, []).append(event["event_id"])

    def update(key: str) -> None:
        # Only the newest entries survive the store's bounds: the others need no write.
        realtime.record(key, recent.get(key, [])[-RECENT_LIMIT:],
                        shown.get(key, [])[-SHOWN_LIMIT:], now_ms,
                        recent_ids=recent_ids.get(key, [])[-RECENT_LIMIT:],
                        shown_ids=shown_ids.get(key, [])[-SHOWN_LIMIT:])

    return {key: functools.partial(update, key) for key in sorted(recent.keys() | shown.keys())}


def run_writes(tasks: dict[str, Callable[[], object]], deadline: float | None = None) -> int:
    """Run the writes on the shared pool and wait for them until ``deadline``; how many
    failed or were not done then (those not started are dropped, the others left running).
    Keys name a write for the log (shoppers' keys are logged as a count only)."""
    if not tasks:
        return 0
    futures: list[Future[object]] = [_writers().submit(task) for task in tasks.values()]
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    done, pending = wait(futures, timeout=timeout)
    dropped = sum(future.cancel() for future in pending)  # not started: skipped
    failed = [type(exc).__name__ for exc in (future.exception() for future in done) if exc]
    if failed or pending:
        logger.warning("%d of %d realtime and experiment writes not done in time: %d failed "
                       "(%s), %d dropped before they started, %d still running",
                       len(failed) + len(pending), len(tasks), len(failed),
                       ", ".join(sorted(set(failed))) or "-", dropped, len(pending) - dropped)
    return len(failed) + len(pending)
