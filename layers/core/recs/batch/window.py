"""The training window's events, read file by file, each event once, without their ids.

The lander writes a file per batch of SQS messages, and SQS delivers at least once, so the
same event can sit in two files. Each file's ``event_id`` column is hashed as the file is read
and then dropped: ids are the biggest column (about 40 bytes an event for UUIDs, 815 MB of
the 1.7 GB table at 20 M events), and nothing after the dedup needs them. Only the ids whose
hash repeats are compared as strings, by reading the id column of just their files again.

A file that cannot be read (empty, truncated, corrupt, not Parquet, or another schema: a
column missing or of another type, nulls where the lander never writes any) is skipped and
reported in a ``FileReport`` rather than failing the run: one bad file in the 90-day window
would otherwise stop every nightly run until it left the window. Whether too much was
skipped to train at all is the weight step's call (``RECS_MAX_UNREADABLE_SHARE``).

The window is its files, not a copy of their events: the weight step selects them
(``window_keys``) and lists them under the version with the rows it dropped as duplicates
(``put_listing``), and the later steps that need the events themselves (a tuning train step,
evaluate) read the same files again, without their ids (``read_listed``).
"""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recs.algorithms.threads import threads
from recs.batch.reclaim import release_memory
from recs.batch.weighting import EVENT_COLUMNS, first_of_each_id, string_hashes
from recs.contracts import layout
from recs.contracts.state import SkippedInput
from recs.exceptions import NotFound
from recs.formats import event_files
from recs.stores.ports import ObjectStore

COLUMNS = tuple(c for c in EVENT_COLUMNS if c != "event_id")
# Rows per compacted chunk: a few hundred MB, far below Arrow's 2 GB per string array.
COMPACT_ROWS = 2_000_000
# Files fetched and decoded ahead of the one being joined, per worker thread: enough that
# the workers keep reading while the joining thread compacts, few enough (a file is a few
# MB decoded) that the window's memory is not the files in flight.
READ_AHEAD_PER_WORKER = 8

T = TypeVar("T")


def conformed(columns: Sequence[str]) -> pa.Schema:
    """The schema every file is conformed to: the lander's types, dictionaries read as
    strings."""
    return pa.schema([pa.field(name, pa.string() if name == "event_type"
                               else event_files.SCHEMA.field(name).type) for name in columns])


_EXPECTED = conformed(EVENT_COLUMNS)
# Columns a file must have (and one of the shopper's ids); the others are filled with nulls.
_REQUIRED = ("event_id", "item_id", "event_type", "ts")
# Columns the lander never leaves null: a null there would be counted as some other event.
_NOT_NULL = ("item_id", "event_type", "ts")
# What reading a broken file raises, besides Arrow's own errors (whose bases these are).
_READ_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, KeyError, IndexError,
                EOFError)
REASON_CHARS = 200  # an error's text kept in a reason


@dataclass
class FileReport:
    """What ``read_window`` made of its files: the bytes of all of them, those it skipped
    (every one, in key order), each with its size and why, and the rows of each file it
    dropped as copies of an earlier row's event (by file, positions in the file)."""

    bytes: int = 0
    skipped: list[SkippedInput] = field(default_factory=list)
    duplicates: dict[str, list[int]] = field(default_factory=dict)

    def read(self, keys: Sequence[str]) -> list[str]:
        """The ones of ``keys`` that were read, not skipped."""
        skipped = {s.get("key") for s in self.skipped}
        return [key for key in keys if key not in skipped]

    @property
    def skipped_bytes(self) -> int:
        return sum(s.get("bytes", 0) for s in self.skipped)


def window_keys(keys: Iterable[str], start: date, end: date) -> list[str]:
    """The event files among ``keys`` of the days from ``start`` up to, not including,
    ``end``, in the order given: by their partition's date, which the lander makes every
    event's own (UTC) date, so a late event joins its own day, never a later one."""
    first, last = start.isoformat(), end.isoformat()
    return [key for key in keys
            if (dt := layout.event_file_date(key)) is not None and first <= dt < last]


def put_listing(objects: ObjectStore, key: str, keys: Sequence[str],
                report: FileReport) -> None:
    """At ``key`` (``layout.window_files``), what ``read_window(objects, keys, report)`` read:
    the files it could use, in order, and the rows it dropped from them as duplicates."""
    listing = {"event_files": report.read(keys), "duplicates": report.duplicates}
    objects.put(key, json.dumps(listing, separators=(",", ":")).encode())


def read_listed(objects: ObjectStore, key: str, report: FileReport | None = None) -> pa.Table:
    """The table ``read_window`` read from the files listed at ``key`` (``put_listing``),
    read again without their ids: the rows it dropped as duplicates are dropped by position,
    so the biggest column is neither decoded nor hashed again.

    Exactly the files the weight step read, not the window's days listed again: late events
    keep landing in past days' partitions, and a file that landed after the weight step must
    not reach the version's tuning or hold-out (nor a re-run of the version see a different
    window). The lander derives a file's key from its events' ids, so the same keys hold the
    same events. A listed file gone since is skipped and noted in ``report``."""
    listing = json.loads(objects.get(key))
    duplicates: dict[str, list[int]] = listing.get("duplicates", {})
    report = FileReport() if report is None else report

    def files() -> Iterator[pa.Table]:
        for file_key, table in readable_files(objects, listing["event_files"], report,
                                              _read_without_ids):
            if file_key in duplicates:
                keep = np.ones(table.num_rows, dtype=bool)
                keep[duplicates[file_key]] = False
                table = table.filter(pa.array(keep))
            yield table

    window = _joined(files())
    release_memory()
    return window


def _read_without_ids(blob: bytes) -> tuple[pa.Table | None, str]:
    return read_file(blob, COLUMNS)


def read_window(objects: ObjectStore, keys: Sequence[str],
                report: FileReport | None = None) -> pa.Table:
    """The events of the Parquet files at ``keys``, in key then row order, keeping the first
    row of each ``event_id`` (and every row without one); the table has ``COLUMNS``. Files
    that cannot be read are left out and noted in ``report``."""
    report = FileReport() if report is None else report
    read_keys: list[str] = []  # the files read, in order: the ids are re-read from these
    hashes, valid, starts = [], [], [0]

    def files() -> Iterator[pa.Table]:
        for key, (table, file_hashes, file_valid) in readable_files(objects, keys, report,
                                                                     _read_hashed):
            read_keys.append(key)
            hashes.append(file_hashes)
            valid.append(file_valid)
            starts.append(starts[-1] + table.num_rows)
            yield table

    window = _joined(files())
    if not read_keys:
        return window

    def ids_at(rows: np.ndarray) -> pa.Array:
        """The ids of these rows (ascending), re-read from their files only."""
        file_of = np.searchsorted(starts, rows, side="right") - 1
        parts = []
        for index in np.unique(file_of):
            ids = event_files.decode([objects.get(read_keys[index])], columns=["event_id"])
            parts.append(ids["event_id"].cast(pa.string()).take(
                pa.array(rows[file_of == index] - starts[index])))
        return pa.chunked_array(parts).combine_chunks()

    keep = first_of_each_id(np.concatenate(hashes), np.concatenate(valid), ids_at)
    hashes.clear()  # emptied, not deleted: files() above refers to them
    valid.clear()
    if keep is not None:
        window = window.filter(pa.array(keep))
        dropped = np.flatnonzero(~keep)
        file_of = np.searchsorted(starts, dropped, side="right") - 1
        for index in np.unique(file_of):
            report.duplicates[read_keys[index]] = (
                dropped[file_of == index] - starts[index]).tolist()
    release_memory()
    return window


def _read_hashed(blob: bytes) -> tuple[tuple[pa.Table, np.ndarray, np.ndarray] | None, str]:
    """A file's table without its ids, their hashes and which rows have one (on a worker:
    hashing the ids is a third of reading a file)."""
    table, problem = read_file(blob)
    if table is None:
        return None, problem
    ids = table["event_id"]
    return (table.drop_columns(["event_id"]), string_hashes(ids),
            ids.is_valid().to_numpy(zero_copy_only=False)), ""


def readable_files(objects: ObjectStore, keys: Sequence[str], report: FileReport,
                   read: Callable[[bytes], tuple[T | None, str]],
                   ) -> Iterator[tuple[str, T]]:
    """Each file at ``keys`` that ``read`` can use, with what it made of it, in key order; the
    others (gone since they were listed, or unusable) are noted in ``report`` with why.

    Files are fetched and read on ``threads()`` workers, a few ahead of the one yielded
    (Parquet decoding and numpy release the GIL, and fetches from S3 wait on the network),
    while the caller joins the earlier ones; ``report`` is written here, in key order."""
    workers = threads()
    if workers <= 1 or len(keys) <= 1:
        for key in keys:
            yield from _used(key, *_fetched(objects, key, read), report)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="read-window") as pool:
        pending: deque[tuple[str, Future[tuple[int | None, T | None, str]]]] = deque()
        for key in keys:
            pending.append((key, pool.submit(_fetched, objects, key, read)))
            if len(pending) >= workers * READ_AHEAD_PER_WORKER:
                done_key, future = pending.popleft()
                yield from _used(done_key, *future.result(), report)
        while pending:
            done_key, future = pending.popleft()
            yield from _used(done_key, *future.result(), report)


def _fetched(objects: ObjectStore, key: str, read: Callable[[bytes], tuple[T | None, str]],
             ) -> tuple[int | None, T | None, str]:
    """The file's size (None when it is gone) and what ``read`` made of it."""
    try:
        blob = objects.get(key)
    except NotFound:  # listed, then gone (a retention rule, an operator)
        return None, None, "listed but no longer stored"
    made, problem = read(blob)
    return len(blob), made, problem


def _used(key: str, size: int | None, made: T | None, problem: str,
          report: FileReport) -> Iterator[tuple[str, T]]:
    """The file's outcome, noted in ``report``; itself when it can be used."""
    if size is None:
        report.skipped.append({"key": key, "reason": problem, "bytes": 0})
        return
    report.bytes += size
    if made is None:
        report.skipped.append({"key": key, "reason": problem, "bytes": size})
        return
    yield key, made


def read_file(blob: bytes, columns: Sequence[str] = EVENT_COLUMNS,
              where_set: str | None = None) -> tuple[pa.Table | None, str]:
    """One event file as a table of ``columns`` (the lander's) of the lander's types
    (a column the file lacks is nulls), or None and why it cannot be used. With ``where_set``
    only the rows where that column is set are read, none when the file lacks the column."""
    if not blob:
        return None, "empty file"
    try:
        schema = pq.read_schema(io.BytesIO(blob))
    except _READ_ERRORS as exc:
        return None, _reason("not a readable Parquet file", exc)
    expected = conformed(columns)
    missing = [name for name in _REQUIRED if name not in schema.names]
    if "user_id" not in schema.names and "session_id" not in schema.names:
        missing.append("user_id or session_id")
    if missing:
        return None, f"foreign schema: no column {', '.join(missing)}"
    present = [name for name in columns if name in schema.names]
    for name in present:
        found, wanted = schema.field(name).type, expected.field(name).type
        if not _readable_as(found, wanted):
            return None, f"foreign schema: column {name} is {found}, expected {wanted}"
    if where_set is not None and where_set not in present:
        return expected.empty_table(), ""
    try:
        if where_set is None:
            table = event_files.decode([blob], columns=present)
        else:
            table = pq.read_table(io.BytesIO(blob), columns=present,
                                  filters=pc.field(where_set).is_valid())
        table.validate(full=True)  # offsets in bounds, strings valid UTF-8
        arrays = [table[name].cast(expected.field(name).type) if name in present
                  else pa.nulls(table.num_rows, expected.field(name).type)
                  for name in columns]
    except _READ_ERRORS as exc:
        return None, _reason("corrupt", exc)
    table = pa.Table.from_arrays(arrays, schema=expected)
    for name in _NOT_NULL:
        if name in columns and table[name].null_count:
            return None, f"column {name} holds {table[name].null_count} nulls"
    return table, ""


def _readable_as(found: pa.DataType, expected: pa.DataType) -> bool:
    """Strings as strings (plain, large or dictionary-encoded), times as times (any unit), and
    a column of nulls (Arrow's type for a column nothing was ever written to) as anything."""
    if pa.types.is_null(found):
        return True
    if pa.types.is_dictionary(found):
        found = found.value_type
    if pa.types.is_timestamp(expected):
        return pa.types.is_timestamp(found)
    if pa.types.is_string(expected):
        return pa.types.is_string(found) or pa.types.is_large_string(found)
    return bool(found == expected)


def _reason(what: str, exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{what}: {text}"[:REASON_CHARS]


def _joined(tables: Iterable[pa.Table]) -> pa.Table:
    """Files' tables as one, compacted about every ``COMPACT_ROWS`` rows as they come
    (``_compacted``); the empty window when there are none."""
    chunks: list[pa.Table] = []  # compacted: about COMPACT_ROWS rows each
    pending: list[pa.Table] = []  # the files read since the last compaction
    rows = 0  # in ``pending``
    for table in tables:
        pending.append(table)
        rows += table.num_rows
        if rows >= COMPACT_ROWS:
            chunks.append(_compacted(pending))
            rows = 0
    if pending:
        chunks.append(_compacted(pending))
    if not chunks:
        return _EXPECTED.empty_table().drop_columns(["event_id"])
    return pa.concat_tables(chunks, promote_options="default")


def _compacted(tables: list[pa.Table]) -> pa.Table:
    """Files' tables as one chunk per column; ``tables`` is emptied, so that their memory
    goes back before this returns. A file's few thousand rows per column, spread over the
    allocator's pages, held half again their size at 20 M events (1.6 GB for a 0.9 GB
    table); contiguous, they hold their size."""
    table = pa.concat_tables(tables, promote_options="default").combine_chunks()  # as decode
    tables.clear()
    release_memory()
    return table
