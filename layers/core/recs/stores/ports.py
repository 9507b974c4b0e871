"""The small interfaces the domain talks to instead of boto3.

Each has exactly the operations the product needs, so the in-memory fake is honest and an
adapter for another backend stays short.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from recs.contracts.experiments import Experiment, Outcome, VariantCounts
from recs.contracts.keys import (
    ARRIVAL_CREATED_AT,
    ARRIVAL_ITEM,
    NEW_ARRIVALS_KEY,
    UNAVAILABLE_SHARDS,
    Entry,
    NewArrival,
    StoredEntry,
    loggable_key,
    unavailable_shard,
)
from recs.contracts.ops import DayHealth, TierCounts
from recs.contracts.rows import RecRow
from recs.contracts.state import Counts, Skipped
from recs.exceptions import StateLimitExceeded

logger = logging.getLogger(__name__)


@dataclass
class ModelVersion:
    """A registry record: what a version was trained on, how it scored, where it is now.

    ``status``: ``exporting`` while its rows are written, then ``exported``; ``live`` while
    the pointer names it, ``archived`` once another version replaced it (``superseded_at``);
    ``rejected`` by the gate or promotion (``reason``); ``expiring`` while
    ``recs.batch.retire`` deletes its rows, ``expired`` once they are gone. ``skipped``
    names the inputs the run could not read (their totals are in ``counts``).
    """

    version: str
    status: str
    created_at: str
    window_start: str = ""
    window_end: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    counts: Counts = field(default_factory=lambda: Counts())
    metrics: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""
    reason: str = ""
    promoted_at: str = ""
    superseded_at: str = ""
    skipped: Skipped = field(default_factory=lambda: Skipped())

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# JSON bytes of one chunk of a version's row keys: a DynamoDB item holds at most 400 KB.
ROW_KEYS_CHUNK_BYTES = 300_000


def row_key_chunks(keys: Iterable[str]) -> Iterator[list[str]]:
    """``keys`` in order, in lists whose JSON (ASCII, as ``json.dumps`` writes it) stays
    within ``ROW_KEYS_CHUNK_BYTES``."""
    chunk: list[str] = []
    size = 2
    for key in keys:
        length = len(json.dumps(key)) + 2  # the quotes are in it; a comma and a space
        if chunk and size + length > ROW_KEYS_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 2
        chunk.append(key)
        size += length
    if chunk:
        yield chunk


# Statuses of a version whose rows are being or have been deleted: it can never go live.
RETIRING = ("expiring", "expired")


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> list[str]: ...

    def tail(self, key: str, size: int) -> tuple[bytes, int]:
        """The object's last ``size`` bytes (all of it when it is smaller) and its whole size:
        what a Parquet footer needs, without downloading the file (``NotFound`` when none)."""
        ...

    def span(self, key: str, start: int, size: int) -> bytes:
        """The object's ``size`` bytes from ``start`` (fewer past its end): a Parquet
        column's chunks without the rest of the file (``NotFound`` when none)."""
        ...


class EventQueue(Protocol):
    def send(self, bodies: Sequence[str]) -> None:
        """Enqueue every body or raise ``StoreError``: ingest must not acknowledge less."""


class RecommendationStore(Protocol):
    def write(self, rows: Iterable[RecRow]) -> int:
        """Write all rows (idempotent upserts) and return how many were written."""

    def get_many(self, keys: Sequence[str], version: str) -> dict[str, list[StoredEntry]]:
        """The lists stored under ``keys`` for ``version``; missing keys are absent."""

    def delete(self, keys: Iterable[str], version: str) -> int:
        """Delete the rows of ``version`` under ``keys`` (a key without a row is no error) and
        return how many keys were sent."""

    def write_row_keys(self, version: str, keys: Iterable[str]) -> int:
        """Store ``keys`` (those of the version's rows) beside the rows, in chunks of
        ``row_key_chunks`` under ``recs.contracts.keys.row_keys_key(n)``; the chunk count."""

    def read_row_keys(self, version: str) -> Iterator[list[str]]:
        """The chunks ``write_row_keys`` stored for ``version``, in order, up to the first
        missing one (none for a version written without them)."""


# Bounds every realtime store keeps, whatever the backend.
RECENT_LIMIT = 30  # recent events per shopper
SHOWN_LIMIT = 100  # impressions per shopper
# Event ids a shopper's state remembers (at least), so a retried request appends nothing twice.
SEEN_LIMIT = RECENT_LIMIT + SHOWN_LIMIT
NEW_ARRIVALS_LIMIT = 200
# DynamoDB refuses an item over 400 KB (names and values, UTF-8); moto does not. The catalog
# rows keep their payload under these, leaving room for names, keys and a revision.
DYNAMODB_ITEM_BYTES = 400 * 1024
UNAVAILABLE_SHARD_BYTES = 350_000  # UTF-8 bytes of the item ids in one unavailable shard
NEW_ARRIVALS_BYTES = 350_000  # the JSON of the new-arrivals list


def merge_new_arrivals(current: list[list[Any]],
                       incoming: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Newest first by ``created_at``, one entry per item, at most ``NEW_ARRIVALS_LIMIT``
    entries and ``NEW_ARRIVALS_BYTES`` of JSON (titles of 512 characters fill the bytes
    first: the oldest entries go, never a request).

    Entries are laid out as ``recs.contracts.keys.NewArrival`` and kept as lists, the form
    they take in JSON. A ``current`` list that is not such a list is dropped, so an update
    replaces a corrupt row instead of failing on it.
    """
    if not valid_arrivals(current):
        skip_unreadable(NEW_ARRIVALS_KEY, "new arrivals")
        current = []
    by_item = {entry[ARRIVAL_ITEM]: entry for entry in current}
    for entry in incoming:
        by_item[entry[ARRIVAL_ITEM]] = list(entry)
    merged = sorted(by_item.values(),
                    key=lambda e: (-(e[ARRIVAL_CREATED_AT] or 0), e[ARRIVAL_ITEM]))
    merged = merged[:NEW_ARRIVALS_LIMIT]
    size = 1  # "[" and "]", and a comma between entries: as json.dumps writes the list
    for count, entry in enumerate(merged):
        size += len(json.dumps(entry, separators=(",", ":"))) + 1
        if size > NEW_ARRIVALS_BYTES:
            return merged[:count]
    return merged


def unavailable_bytes(item_ids: Iterable[str]) -> int:
    """What a set of item ids costs in a DynamoDB string set: their UTF-8 bytes."""
    return sum(len(item.encode("utf-8", "surrogatepass")) for item in item_ids)


def check_unavailable_fits(current: Mapping[int, Collection[str]], unavailable: set[str],
                           available: set[str]) -> None:
    """Raise ``StateLimitExceeded`` (field ``available``) when marking ``unavailable`` items
    (and ``available`` ones back) would put more than ``UNAVAILABLE_SHARD_BYTES`` of ids into
    one shard; ``current`` holds the shards the update adds to, by shard number.

    Called before a catalog update writes anything, so a refused update leaves no trace.
    """
    adding: dict[int, set[str]] = {}
    for item in unavailable - available:
        adding.setdefault(unavailable_shard(item), set()).add(item)
    for shard, items in sorted(adding.items()):
        after = (set(current.get(shard, ())) | items) - available
        size = unavailable_bytes(after)
        if size > UNAVAILABLE_SHARD_BYTES:
            raise StateLimitExceeded(
                "available",
                f"the set of unavailable items is full: this update would put {size:,} bytes "
                f"of item ids into shard {shard} of {UNAVAILABLE_SHARDS} (the limit is "
                f"{UNAVAILABLE_SHARD_BYTES:,}, about {UNAVAILABLE_SHARDS} x "
                f"{UNAVAILABLE_SHARD_BYTES // 1000:,} KB in all); nothing was recorded. Mark "
                "items that are gone for good available: true (or drop them from the "
                "catalog), then send the update again")


# -- what the read path accepts from a stored row -----------------------------------------
# A row that fails these is treated as missing, never as an error: one corrupt list must not
# turn every request that reads it into a 5xx. Checked field by field with ``type`` (not
# ``isinstance``): a few hundred entries per request, and ``bool`` is no score.

_ENTRY_FIELDS = len(Entry._fields)
_ARRIVAL_FIELDS = len(NewArrival._fields)
_NUMBER = (int, float)
_TEXT = (str, type(None))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder, made once: ``json.loads`` with an argument would build one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def decode_json(text: Any) -> Any:
    """Standard JSON or ``ValueError``: NaN and Infinity (which ``json.loads`` takes and no
    client can read back) and nesting past the interpreter's recursion limit included."""
    if not isinstance(text, str):
        raise ValueError("not a JSON string")
    try:
        return _DECODER.decode(text)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def valid_entries(value: Any) -> bool:
    """A stored list: a JSON list of entries laid out as ``recs.contracts.keys.Entry``."""
    if type(value) is not list:
        return False
    for e in value:
        if (type(e) is not list or len(e) != _ENTRY_FIELDS or type(e[0]) is not str
                or type(e[1]) not in _NUMBER or type(e[2]) not in _TEXT
                or type(e[3]) not in _TEXT or type(e[4]) not in _TEXT
                or type(e[5]) not in _TEXT or type(e[6]) not in _TEXT):
            return False
    return True


def decode_entries(text: Any) -> list[StoredEntry] | None:
    """The entries of a stored list, or None when the row is not one."""
    try:
        value = decode_json(text)
    except ValueError:
        return None
    return value if valid_entries(value) else None


def decode_history(text: Any) -> list[str] | None:
    """The item ids of a shopper row's ``history``, or None when it is not a list of them."""
    try:
        value = decode_json(text)
    except ValueError:
        return None
    if type(value) is not list or not all(type(item) is str for item in value):
        return None
    return value


def valid_arrivals(value: Any) -> bool:
    """The new-arrivals list: entries laid out as ``recs.contracts.keys.NewArrival``."""
    if type(value) is not list:
        return False
    return all(type(e) is list and len(e) == _ARRIVAL_FIELDS and type(e[0]) is str
               and (e[1] is None or type(e[1]) in _NUMBER) and type(e[2]) in _TEXT
               and type(e[3]) in _TEXT for e in value)


def valid_realtime(recent: Any, shown: Any) -> bool:
    """A shopper's realtime state: ``(item, event, ts_ms)`` triples and item ids."""
    return (type(recent) is list and type(shown) is list
            and all(type(r) is tuple and len(r) == 3 and type(r[0]) is str
                    and type(r[1]) is str and type(r[2]) is int for r in recent)
            and all(type(item) is str for item in shown))


_REPORTED: set[str] = set()
_REPORT_MEMORY = 1_000


def skip_unreadable(key: str, what: str) -> None:
    """Log a row the read path cannot use and will treat as missing: once per key per
    process (a corrupt trending list is read by every request), shoppers' ids hashed."""
    if key in _REPORTED:
        return
    if len(_REPORTED) < _REPORT_MEMORY:
        _REPORTED.add(key)
    logger.warning("unreadable %s row %s treated as missing", what, loggable_key(key))


@dataclass(frozen=True)
class Deadline:
    """When the read path stops waiting for its stores and answers from what it has.

    A request takes one at its start (``after(budget)``); each read then waits only as long
    as is left, so retries and the second round trip cannot stack up past the budget. A
    backoff sleeps through ``sleep``, in the same time as ``clock`` (tests pass a fake pair).
    """

    at: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> Deadline:
        return cls(clock() + seconds, clock, sleep)

    def remaining(self) -> float:
        return self.at - self.clock()


@dataclass
class RealtimeState:
    """What the read path knows within seconds: a shopper's recent events and impressions.

    ``recent`` holds ``(item_id, event_type, ts_ms)`` oldest first; ``shown`` the item ids of
    impressions, oldest first. ``history``: the items of the shopper's nightly history, read
    from their list row in the same round trip, and only when the reader is asked for it.
    """

    recent: list[tuple[str, str, int]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)


@dataclass
class CatalogState:
    """The catalog facts serving applies at once: unavailable items and new arrivals."""

    unavailable: set[str] = field(default_factory=set)
    new_arrivals: list[list[Any]] = field(default_factory=list)  # keys.NewArrival layout


_Entry = TypeVar("_Entry")


def unseen(entries: Sequence[_Entry], ids: Sequence[str] | None,
           seen: set[str]) -> tuple[list[_Entry], list[str]]:
    """The entries whose event id is neither in ``seen`` nor earlier in ``ids``, and their
    ids, which join ``seen``; every entry when ``ids`` is None (nothing to go by)."""
    if ids is None:
        return list(entries), []
    if len(ids) != len(entries):
        raise ValueError(f"{len(ids)} event ids for {len(entries)} entries")
    kept: list[_Entry] = []
    kept_ids: list[str] = []
    for entry, event_id in zip(entries, ids, strict=True):
        if event_id not in seen:
            seen.add(event_id)
            kept.append(entry)
            kept_ids.append(event_id)
    return kept, kept_ids


class RealtimeStore(Protocol):
    def record(self, key: str, recent: Sequence[tuple[str, str, int]], shown: Sequence[str],
               now_ms: int, *, recent_ids: Sequence[str] | None = None,
               shown_ids: Sequence[str] | None = None) -> None:
        """Append a shopper's events (``U#user`` or ``S#session``), keeping the lists bounded.

        With ``recent_ids`` and ``shown_ids`` (the event id of each entry of ``recent`` and
        ``shown``, in order) an entry whose event id the shopper's state already remembers is
        not appended again, so a retried request changes nothing; the last ``SEEN_LIMIT`` ids
        at least are remembered. Without them every entry is appended.
        """

    def check_catalog(self, unavailable: set[str], available: set[str]) -> None:
        """Raise ``StateLimitExceeded`` when ``update_catalog`` with these sets would grow the
        unavailable items past their bound (``check_unavailable_fits``); writes nothing, so
        a caller checks before it records anything else."""

    def update_catalog(self, unavailable: set[str], available: set[str],
                       new_arrivals: Sequence[list[Any]]) -> None:
        """Mark items (un)available and merge items into the new-arrivals list (entries laid
        out as ``recs.contracts.keys.NewArrival``)."""


class ServingReader(Protocol):
    def read(
        self, list_keys: Sequence[str], version: str | None, shopper_keys: Sequence[str],
        catalog: bool = False, deadline: Deadline | None = None, history: bool = False,
    ) -> tuple[dict[str, list[StoredEntry]], dict[str, RealtimeState], CatalogState | None]:
        """One round trip: precomputed lists of ``version``, shoppers' realtime state, and
        (when ``catalog``) the catalog state. With ``history``, a shopper whose list row is
        among ``list_keys`` gets its nightly history in their state (``history``), with or
        without a realtime row: the attribute costs bytes, so only a request that leaves out
        seen items reads it.

        A row that cannot be decoded or has the wrong shape is absent (and logged once). Waits
        at most until ``deadline``: keys still unread then are absent too; raises
        ``StoreError`` only when nothing could be read.
        """


class ModelRegistry(Protocol):
    def put_version(self, record: ModelVersion) -> None: ...

    def get_version(self, version: str) -> ModelVersion | None: ...

    def list_versions(self) -> list[ModelVersion]: ...

    def live_version(self) -> str | None: ...

    def promote(self, version: str, expected_live: str | None, promoted_at: str) -> None:
        """Make ``version`` live in one conditional write; the version it replaces becomes
        ``archived`` with ``superseded_at`` = ``promoted_at``.

        Raises ``PromotionRefused`` when the live pointer is no longer ``expected_live``
        (another run promoted meanwhile), the version is unknown, or its rows are being or
        have been deleted (``expiring``, ``expired``).
        """

    def retire(self, version: str) -> bool:
        """Mark ``version`` ``expiring`` in one conditional write, unless the live pointer
        names it (or it is unknown): then change nothing and return False. Once a version is
        ``expiring`` no promotion can make it live, so its rows may be deleted."""


@dataclass(frozen=True)
class UnitTotals:
    """One unit's live totals in an arm, and when it was first counted (epoch ms)."""

    variant: int
    unit: str
    outcome: Outcome
    first_ms: int


@dataclass(frozen=True)
class ExactCounts:
    """The nightly recount of an experiment: per variant (by position) in all, and per day."""

    as_of: str
    totals: dict[int, VariantCounts]
    days: dict[str, dict[int, VariantCounts]]


# Event ids a unit's row remembers, so a redelivered event counts once. A unit past it keeps
# counting; its later duplicates are caught by the nightly recount, which dedups the lake.
UNIT_EVENT_IDS = 2_000


class ExperimentStore(Protocol):
    def create(self, experiment: Experiment) -> None:
        """Store a new experiment; ``Conflict`` when its id is taken."""

    def save(self, experiment: Experiment) -> None:
        """Replace a stored experiment (its status, stop time, winner)."""

    def get(self, experiment_id: str) -> Experiment | None: ...

    def list(self) -> list[Experiment]:
        """Every experiment, oldest first."""

    def record(self, experiment_id: str, variant: int, unit: str, outcome: Outcome,
               now_ms: int, event_id: str | None = None) -> bool:
        """Add ``outcome`` to the unit's totals and the variant's counts (``add_outcome``).

        With ``event_id``, an event the unit's row already counted changes nothing and the
        answer is False. The unit's row changes in one conditional write; the variant's sums
        follow in a second, from what the first returned, so they are exact unless that
        second write fails (then the nightly recount corrects them).
        """

    def live_counts(self, experiment_id: str) -> dict[int, VariantCounts]:
        """The live counts per variant position; variants with no unit are absent."""

    def units(self, experiment_id: str) -> Iterator[UnitTotals]:
        """Every unit's live totals, for the nightly recount."""

    def put_exact(self, experiment_id: str, counts: ExactCounts) -> None: ...

    def exact(self, experiment_id: str) -> ExactCounts | None:
        """The last nightly recount, None before the first."""


class OpsStore(Protocol):
    """The operator console's daily rows (``recs.contracts.ops``): health counters that
    ingest and the lander add to, attribution the nightly step puts whole."""

    def add_health(self, day: str, counts: Mapping[str, int]) -> None:
        """Add each count (``HEALTH_COUNTS`` names) to the day's row, in one write."""

    def health(self, days: Sequence[str]) -> list[DayHealth]:
        """One ``DayHealth`` per day asked (consecutive, oldest first); zeros for a day
        with no row."""

    def put_attribution(self, days: Mapping[str, Sequence[TierCounts]]) -> None:
        """Replace each day's attribution with the cells given (none: an empty day)."""

    def attribution(self, days: Sequence[str]) -> dict[str, list[TierCounts]]:
        """The stored cells of the days asked (consecutive), by day; days with none absent."""


class QueueDepth(Protocol):
    def depth(self) -> int:
        """Messages in the queue, visible or in flight (SQS's approximate counts)."""


class Secret(Protocol):
    """A secret's text, such as the shopper token secret the shop's backend shares."""

    def value(self, *, fresh: bool = False) -> str:
        """The secret; ``fresh``: read it again if the copy held may be stale (rotated)."""
