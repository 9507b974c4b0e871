"""The small interfaces the domain talks to instead of boto3.

Each has exactly the operations the product needs, so the in-memory fake is honest and an
adapter for another backend stays short.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from recs.contracts.keys import ARRIVAL_CREATED_AT, ARRIVAL_ITEM, StoredEntry
from recs.contracts.state import Counts, Skipped


@dataclass(frozen=True)
class RecRow:
    """One precomputed list under a key of ``recs.contracts.keys`` (``U#alice``, ``I#sku1``,
    ``POP#global``, ...).

    ``items`` holds entries laid out as ``recs.contracts.keys.Entry`` (lists or the tuple
    itself); it is stored as one JSON string so the API decodes a whole list in one
    ``json.loads``, and read back as lists.
    """

    key: str
    version: str
    items: Sequence[Sequence[Any]]
    expires_at: int = 0


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
NEW_ARRIVALS_LIMIT = 200


def merge_new_arrivals(current: list[list[Any]],
                       incoming: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Newest first by ``created_at``, one entry per item, at most ``NEW_ARRIVALS_LIMIT``.

    Entries are laid out as ``recs.contracts.keys.NewArrival`` and kept as lists, the form
    they take in JSON.
    """
    by_item = {entry[ARRIVAL_ITEM]: entry for entry in current}
    for entry in incoming:
        by_item[entry[ARRIVAL_ITEM]] = list(entry)
    merged = sorted(by_item.values(),
                    key=lambda e: (-(e[ARRIVAL_CREATED_AT] or 0), e[ARRIVAL_ITEM]))
    return merged[:NEW_ARRIVALS_LIMIT]


@dataclass
class RealtimeState:
    """What the read path knows within seconds: a shopper's recent events and impressions.

    ``recent`` holds ``(item_id, event_type, ts_ms)`` oldest first; ``shown`` the item ids of
    impressions, oldest first.
    """

    recent: list[tuple[str, str, int]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)


@dataclass
class CatalogState:
    """The catalog facts serving applies at once: unavailable items and new arrivals."""

    unavailable: set[str] = field(default_factory=set)
    new_arrivals: list[list[Any]] = field(default_factory=list)  # keys.NewArrival layout


class RealtimeStore(Protocol):
    def record(self, key: str, recent: Sequence[tuple[str, str, int]], shown: Sequence[str],
               now_ms: int) -> None:
        """Append a shopper's events (``U#user`` or ``S#session``), keeping the lists bounded."""

    def update_catalog(self, unavailable: set[str], available: set[str],
                       new_arrivals: Sequence[list[Any]]) -> None:
        """Mark items (un)available and merge items into the new-arrivals list (entries laid
        out as ``recs.contracts.keys.NewArrival``)."""


class ServingReader(Protocol):
    def read(
        self, list_keys: Sequence[str], version: str | None, shopper_keys: Sequence[str],
        catalog: bool = False,
    ) -> tuple[dict[str, list[StoredEntry]], dict[str, RealtimeState], CatalogState | None]:
        """One round trip: precomputed lists of ``version``, shoppers' realtime state, and
        (when ``catalog``) the catalog state."""


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
