"""Turn raw events into weighted (user, item) interactions.

weight = event-type weight x 0.5 ** (age / half-life), summed per (user, item); a pair whose
sum is not positive (a return cancelling a purchase) is dropped; each user keeps at most
``max_items_per_user`` pairs, the strongest, so bots and resellers cannot dominate the
co-occurrence counts. Age is measured from ``as_of`` (the end of the training window), never
from the wall clock, so re-running a day reproduces its model.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recs.algorithms.threads import in_threads
from recs.batch.config import BatchConfig
from recs.batch.interactions import EVENT_CODE, SESSION_PREFIX, Interactions
from recs.batch.reclaim import release_memory
from recs.batch.sessions import session_matrix, session_of_events

DAY_MS = 86_400_000

# Events summed into pairs at once (a block of whole users): bounds the weighting's scratch.
# Blocks run on ``threads()`` workers at once, so the scratch is that many blocks'.
BLOCK_EVENTS = 2_000_000

EVENT_COLUMNS = ("event_id", "user_id", "session_id", "item_id", "event_type", "ts", "category")


# ``encode_many`` splits a column of at least this many rows into 2 ** _PART_BITS parts.
ENCODE_PARTS_MIN_ROWS = 1_000_000
_PART_BITS = 4
ENCODE_PARTS = 1 << _PART_BITS

# Strings are hashed this many rows at a time (a few MB of scratch per slice).
HASH_SLICE_ROWS = 1 << 17
_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# Below this many events in the window a validation split is noise: a handful of shoppers
# would decide the shop's parameters. The configured defaults train instead.
MIN_TUNING_EVENTS = 1_000


def tunes(config: BatchConfig, events: int) -> bool:
    """Whether the train step tunes on a window of ``events`` events, and so weights the
    window's events itself with the parameters it chose: then the weight step makes no
    interactions, which nothing would read."""
    return config.tuning_seconds > 0 and events >= MIN_TUNING_EVENTS


def deduplicate(table: pa.Table) -> pa.Table:
    """Keep the first row of each ``event_id``: SQS delivers at least once.

    Each id is hashed to 64 bits with numpy on Arrow's string buffers, and only the rows
    whose hash repeats (the duplicates, and in theory a collision) are compared as strings.
    Hashing every id in Arrow (dictionary encoding) held about 150 bytes per event, 3 GB at
    20 M events, the weighting's peak; this holds about 16. Rows without an id are kept:
    nothing says two of them are the same event.
    """
    if table.num_rows == 0 or "event_id" not in table.column_names:
        return table
    ids = table["event_id"]
    keep = first_of_each_id(string_hashes(ids), ids.is_valid().to_numpy(zero_copy_only=False),
                            lambda rows: ids.take(pa.array(rows)))
    return table if keep is None else table.filter(pa.array(keep))


def first_of_each_id(hashes: np.ndarray, valid: np.ndarray,
                     ids_at: Callable[[np.ndarray], pa.Array | pa.ChunkedArray],
                     ) -> np.ndarray | None:
    """Which rows to keep: the first of each id, and every row without one (``valid`` False);
    None when no hash repeats. ``ids_at(rows)`` gives the ids of those rows (ascending), so
    only the few whose hash repeats are ever compared, or even held, as strings."""
    ordered = hashes[valid]  # a copy, sorted in place: not a second copy of every hash
    ordered.sort()
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size == 0:
        return None
    at = np.minimum(np.searchsorted(repeated, hashes), repeated.size - 1)
    candidates = np.flatnonzero(valid & (repeated[at] == hashes))
    codes = ids_at(candidates).dictionary_encode()
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks()
    _, first = np.unique(codes.indices.to_numpy(zero_copy_only=False), return_index=True)
    keep = np.ones(hashes.size, dtype=bool)
    keep[candidates] = False
    keep[candidates[first]] = True
    return keep


def string_hashes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A 64-bit hash of each string (equal strings, equal hashes), 8 bytes at a time.

    Works on each chunk's offsets and bytes directly (a null hashes as its empty slot), a
    slice of rows at a time, so the scratch stays a few MB whatever the column's size."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = [np.zeros(0, np.uint64)]
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            chunk = chunk.cast(pa.string())
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        for start in range(0, len(chunk), HASH_SLICE_ROWS):
            out.append(_slice_hashes(chunk.slice(start, HASH_SLICE_ROWS), width))
    return np.concatenate(out)


def _slice_hashes(array: pa.Array, width: type) -> np.ndarray:
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[
        array.offset:array.offset + len(array) + 1].astype(np.int64)
    lengths = np.diff(offsets)
    first, last = int(offsets[0]), int(offsets[-1])
    padded = np.zeros(last - first + 8, dtype=np.uint8)  # 8 spare bytes: every load is whole
    if last > first:
        padded[:last - first] = np.frombuffer(data_buffer, dtype=np.uint8)[first:last]
    # Unaligned 8-byte words starting at every byte of the slice's strings.
    words = np.ndarray((last - first + 1,), dtype=np.uint64, buffer=padded, strides=(1,))
    starts = offsets[:-1] - first
    h = lengths.astype(np.uint64) * _GOLDEN
    for word in range(-(-int(lengths.max(initial=0)) // 8)):
        # A string takes one round per 8 bytes of its own, whatever else is in the slice.
        left = np.clip(lengths - 8 * word, 0, 8).astype(np.uint64)
        mask = np.where(left >= 8, np.uint64(_MASK64),
                        (np.uint64(1) << (np.minimum(left, 7) * np.uint64(8))) - np.uint64(1))
        mixed = _mix(h ^ (words[np.minimum(starts + 8 * word, last - first)] & mask))
        mixed += np.uint64(((word + 1) * 0x9E3779B97F4A7C15) & _MASK64)
        h = np.where(left > 0, mixed, h)
    return _mix(h)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit reaches every output bit."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def user_keys(table: pa.Table) -> pa.ChunkedArray:
    """``user_id``, or the session id marked as anonymous when there is no user id."""
    users = table["user_id"].cast(pa.string())
    if "session_id" not in table.column_names or users.null_count == 0:
        return users  # nothing to fill: no copy of every key
    sessions = pc.binary_join_element_wise(
        pa.scalar(SESSION_PREFIX), table["session_id"].cast(pa.string()), pa.scalar("")
    )
    return pc.coalesce(users, sessions)


def encode(column: pa.ChunkedArray | pa.Array,
           narrow: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a string column and the distinct values they index (one hash pass
    in Arrow; a Python string per row is what made large windows slow). Encoded per chunk,
    then under one dictionary, so no single array nears Arrow's 2 GB string limit. A null
    gets code 0: callers that allow nulls mask them with ``is_valid``. Codes are int32, as
    Arrow makes them (half the memory of int64 at tens of millions of rows), or with
    ``narrow`` the smallest integers that hold them (a byte per event for event types); the
    values are in the order of their first row."""
    encoded = column.dictionary_encode()
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if chunks and all(len(c.dictionary) == len(chunks[0].dictionary) for c in chunks):
        # Arrow gives every chunk the whole dictionary: the chunks' codes are copied into
        # one array, not joined in Arrow first (a second copy of tens of millions of codes,
        # with the other columns' encodings beside it, was the step's memory peak).
        codes: np.ndarray = np.empty(len(encoded),
                                     dtype=_code_type(len(chunks[0].dictionary), narrow))
        at = 0
        for chunk in chunks:
            indices = chunk.indices if chunk.null_count == 0 else chunk.indices.fill_null(0)
            codes[at:at + len(chunk)] = indices.to_numpy(zero_copy_only=False)
            at += len(chunk)
        return codes, strings(chunks[0].dictionary)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    indices = encoded.indices if encoded.null_count == 0 else encoded.indices.fill_null(0)
    codes = indices.to_numpy(zero_copy_only=False).astype(
        _code_type(len(encoded.dictionary), narrow), copy=False)
    return codes, strings(encoded.dictionary)


def _code_type(values: int, narrow: bool) -> type:
    if narrow and values < 1 << 7:
        return np.int8
    if narrow and values < 1 << 15:
        return np.int16
    return np.int32


def strings(array: pa.Array) -> np.ndarray:
    """A string array without nulls as numpy's fixed-width strings, as ``np.asarray(
    array.to_pylist(), dtype=str)`` makes them, but for ASCII without a Python string per
    value: a column of a million ids held them all at once, at the step's memory peak."""
    if len(array) == 0 or not (pa.types.is_string(array.type) or pa.types.is_large_string(
            array.type)) or array.null_count:
        return np.asarray(array.to_pylist(), dtype=str)
    _, offsets_buffer, data_buffer = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[
        array.offset:array.offset + len(array) + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]] if (
        data_buffer is not None) else np.zeros(0, np.uint8)
    if data.size and data.max() >= 0x80:
        return np.asarray(array.to_pylist(), dtype=str)
    lengths = np.diff(offsets)
    widest = max(int(lengths.max()), 1)
    out = np.zeros((len(array), widest), dtype=np.uint32)  # UCS-4, as numpy's str holds
    starts = offsets[:-1] - offsets[0]
    for column in range(widest):
        has = np.flatnonzero(lengths > column)
        out[has, column] = data[starts[has] + column]
    return out.view(f"<U{widest}").reshape(len(array))


def encode_many(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``encode`` for a column of very many distinct values (the shoppers' keys), in parts
    that fit the CPU's caches, on ``threads()`` workers.

    One hash table of a million keys misses the caches on every row. Here rows are split by
    a hash of their string into ``ENCODE_PARTS`` parts, so that each value is in one part
    only; each part is encoded alone (a table a sixteenth of the size), and the parts'
    values are merged in the order of their first row, the order ``encode`` gives: the
    codes and values are ``encode``'s. For a few hundred thousand values (the items) one
    table is faster than the split."""
    rows = len(column)
    if rows < ENCODE_PARTS_MIN_ROWS:
        return encode(column)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    starts = np.cumsum([0] + [len(chunk) for chunk in chunks])
    part_of = in_threads(_parts, chunks)  # a byte per row: not the rows in part order

    def rows_of(p: int) -> list[np.ndarray]:
        """The part's rows in each chunk (ascending)."""
        return [np.flatnonzero(parts == p) for parts in part_of]

    def encoded(p: int) -> tuple[np.ndarray, pa.Array, np.ndarray]:
        """The part's local codes (-1 for a null), its values and their first rows."""
        at = rows_of(p)
        local = pa.chunked_array([chunk.take(pa.array(rows)) for chunk, rows
                                  in zip(chunks, at, strict=True)], chunks[0].type)
        encoded = local.dictionary_encode().combine_chunks()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(
            np.int32, copy=False)
        # Codes count up from 0 in the order of first rows: a row is a value's first where
        # its code passes every code before it.
        first = codes > np.maximum.accumulate(np.r_[np.int32(-1), codes[:-1]])
        global_rows = np.concatenate([rows + start for rows, start
                                      in zip(at, starts, strict=False)])
        return codes, encoded.dictionary, global_rows[first]

    made = in_threads(encoded, range(ENCODE_PARTS))
    order = np.argsort(np.concatenate([m[2] for m in made]))  # values by their first rows
    code_of = np.empty(order.size, dtype=np.int32)
    code_of[order] = np.arange(order.size, dtype=np.int32)
    offsets = np.cumsum([0] + [len(m[1]) for m in made])
    codes = np.zeros(rows, dtype=np.int32)  # a null's code is 0, as in ``encode``

    def place(p: int) -> None:
        at = np.concatenate([rows + start for rows, start
                             in zip(rows_of(p), starts, strict=False)])
        local = made[p][0]
        made[p] = (local[:0], *made[p][1:])  # each part's codes go once placed
        valid = local >= 0
        codes[at[valid]] = code_of[offsets[p] + local[valid]]

    in_threads(place, range(ENCODE_PARTS))
    values = pa.concat_arrays([m[1] for m in made]).take(pa.array(order))
    return codes, strings(values)


def _parts(chunk: pa.Array) -> np.ndarray:
    """Each row's part: the top bits of its string's hash."""
    return (string_hashes(chunk) >> np.uint64(64 - _PART_BITS)).astype(np.uint8)


def _timestamps_ms(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    if isinstance(column, pa.ChunkedArray):  # one copy, into the array returned
        out = np.empty(len(column), dtype=np.int64)
        at = 0
        for chunk in column.chunks:
            out[at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
            at += len(chunk)
        return out
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass
class WindowArrays:
    """A window's events as codes and times: all the weighting needs of the events table.

    The strings are most of a table's memory (0.9 GB of it at 20 M events): with these
    arrays the weight step lets the table go before the aggregation allocates its scratch.
    ``weight_arrays`` drops each array as soon as it is used (``take``), so hand it the
    only reference."""

    user_code: np.ndarray  # int32, per event
    user_ids: np.ndarray
    item_code: np.ndarray  # int32, per event
    item_ids: np.ndarray
    type_code: np.ndarray  # int8, per event
    type_names: np.ndarray
    ts: np.ndarray  # int64 ms, per event
    categories: np.ndarray  # per item: its latest reported category, "" when none

    def take(self, name: str) -> np.ndarray:
        """The array, no longer held here."""
        array: np.ndarray = getattr(self, name)
        setattr(self, name, array[:0])
        return array


def weight_events(table: pa.Table, config: BatchConfig, as_of_ms: int) -> Interactions:
    """Aggregate a table with ``EVENT_COLUMNS`` into ``Interactions`` as of ``as_of_ms``."""
    return weight_arrays(window_arrays(table, config, as_of_ms), config, as_of_ms)


def window_arrays(table: pa.Table, config: BatchConfig, as_of_ms: int) -> WindowArrays:
    """The deduplicated events inside the window, as arrays."""
    table = deduplicate(table)
    ts = _timestamps_ms(table["ts"]) if table.num_rows else np.zeros(0, np.int64)
    start = as_of_ms - config.training_window_days * DAY_MS
    keep = (ts < as_of_ms) & (ts >= start)
    keep &= table["user_id"].is_valid().to_numpy(zero_copy_only=False) | (
        table["session_id"].is_valid().to_numpy(zero_copy_only=False)
        if "session_id" in table.column_names
        else False
    )
    if not keep.all():  # the nightly window usually keeps every row: no copy then
        table = table.filter(pa.array(keep))
        ts = ts[keep]
    if table.num_rows == 0:
        empty = np.zeros(0, np.int32)
        return WindowArrays(empty, empty.astype(str), empty, empty.astype(str),
                            empty.astype(np.int8), empty.astype(str), ts, empty.astype(str))
    # The users' codes first, on every worker (a million keys: the biggest encoding), then
    # the items', the types' and the categories' side by side (Arrow's hashing releases the
    # GIL): the scratch of one phase at a time, not of all of them.
    # The workers' scratch goes back between the phases: freed in their malloc arenas, it
    # would count in the step's peak as if still held.
    user_code, user_ids = encode_many(user_keys(table))
    release_memory()
    names = ["item_id", "event_type"]
    if "category" in table.column_names and table["category"].null_count < table.num_rows:
        names.append("category")
    encoded = in_threads(lambda name: encode(table[name].cast(pa.string()), narrow=True),
                         names)
    release_memory()
    (item_code, item_ids), (type_code, type_names), *category = encoded
    del encoded
    categories = (_item_categories(table["category"], *category[0], item_code, ts,
                                   len(item_ids))
                  if category else np.full(len(item_ids), "", dtype=str))
    del category
    return WindowArrays(user_code, user_ids, item_code, item_ids, type_code, type_names, ts,
                        categories)


def weight_arrays(arrays: WindowArrays, config: BatchConfig, as_of_ms: int) -> Interactions:
    """Aggregate a window's arrays (consuming them) into ``Interactions`` as of ``as_of_ms``."""
    if arrays.ts.size == 0:
        return _empty(as_of_ms)
    # Arrays per event are the weighting's memory at scale: each is dropped once used.
    user_ids, item_ids, type_names = arrays.user_ids, arrays.item_ids, arrays.type_names
    n_items = len(item_ids)
    type_code = arrays.take("type_code")
    type_weight = np.array([config.weight_of(t) for t in type_names], dtype=np.float64)
    event_weight = type_weight[type_code]
    event_rank = np.array([EVENT_CODE.get(t, -1) for t in type_names], dtype=np.int8)[type_code]
    del type_code

    ts = arrays.take("ts")
    item_code = arrays.take("item_code")
    w = (as_of_ms - ts).astype(np.float64)  # age in days, then its decay, in place
    w /= DAY_MS
    w /= -config.half_life_days
    np.exp2(w, out=w)
    w *= event_weight
    trending = _trending(item_code, event_weight, ts, as_of_ms, n_items, config)
    # Only for a model fitting on sessions: each event's session, and its item and weight
    # held until the items are re-indexed.
    sessions_of = ((session_of_events(arrays.user_code, ts), item_code, w)
                   if config.fits_on_sessions() else None)
    del event_weight, ts
    categories = arrays.categories
    user_code = arrays.take("user_code")

    # (user, item) sums a block of users at a time: the sort of every event's key, with the
    # per-event arrays it orders, was the weighting's memory peak. A block holds whole
    # users, in code order, and its rows keep their table order, so the sums (in row order
    # within each pair), the per-user cap and the final order are those of one global sort.
    # Blocks run side by side (numpy's sorts and reductions release the GIL).
    pairs_of = functools.partial(_block_pairs, user_code=user_code, item_code=item_code, w=w,
                                 event_rank=event_rank, n_items=n_items, config=config)
    parts = in_threads(pairs_of, _user_blocks(user_code, len(user_ids)))
    del pairs_of, user_code, item_code, w, event_rank

    columns = []
    for k in range(4):  # a column at a time, each block's part freed once joined
        columns.append(np.concatenate([part[k] for part in parts]))
        for part in parts:
            part[k] = columns[-1][:0]
    del parts
    pair_user, pair_item, pair_weight, pair_event = columns
    del columns

    # Drop users and items left without any positive pair, re-indexing densely (counts, not
    # np.unique: its sorts were an eighth of the weighting at 20 M events).
    used_users, pair_user = _dense(pair_user, len(user_ids))
    used_items, pair_item = _dense(pair_item, n_items)
    sessions = None
    if sessions_of is not None:
        session, item, weight = sessions_of
        position = np.full(n_items, -1, np.int64)
        position[used_items] = np.arange(used_items.size)
        sessions = session_matrix(session, position[item], weight, used_items.size)
        del sessions_of, session, item, weight
    return Interactions(
        user_ids=user_ids[used_users],
        item_ids=item_ids[used_items],
        user_index=pair_user.astype(np.int32),
        item_index=pair_item.astype(np.int32),
        weight=pair_weight,
        top_event=pair_event,
        item_category=categories[used_items],
        trending=trending[used_items].astype(np.float32),
        as_of_ms=as_of_ms,
        sessions=sessions,
    )


def _user_blocks(user_code: np.ndarray, n_users: int) -> list[tuple[int, int]]:
    """Consecutive user-code ranges ``[low, high)`` of about BLOCK_EVENTS events each."""
    if user_code.size <= BLOCK_EVENTS:
        return [(0, n_users)]
    ends = np.cumsum(np.bincount(user_code, minlength=n_users))
    cuts = np.searchsorted(ends, np.arange(BLOCK_EVENTS, ends[-1], BLOCK_EVENTS), side="left")
    bounds = np.unique(np.r_[0, cuts + 1, n_users]).tolist()
    return list(itertools.pairwise(bounds))


def _block_pairs(users: tuple[int, int], *, user_code: np.ndarray, item_code: np.ndarray,
                 w: np.ndarray, event_rank: np.ndarray, n_items: int,
                 config: BatchConfig) -> list[np.ndarray]:
    """``_pairs`` of the events of user codes ``[low, high)``, as a list (freed column by
    column as they are joined)."""
    return list(_pairs(_rows_of(user_code, users), user_code, item_code, w, event_rank,
                       n_items, config))


def _rows_of(user_code: np.ndarray, users: tuple[int, int]) -> np.ndarray:
    """Row indices (ascending) of the events of user codes ``[low, high)``."""
    low, high = users
    if low == 0 and high > user_code.max(initial=-1):
        return np.arange(user_code.size)
    return np.flatnonzero((user_code >= low) & (user_code < high))


def _pairs(rows: np.ndarray, user_code: np.ndarray, item_code: np.ndarray, w: np.ndarray,
           event_rank: np.ndarray, n_items: int, config: BatchConfig,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The positive, capped (user, item) pairs of these rows' users, sorted by user, item."""
    pair = user_code[rows].astype(np.int64)
    pair *= n_items
    pair += item_code[rows]
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    pair_key = pair[starts]
    del pair
    order = rows[order]
    pair_weight = np.add.reduceat(w[order], starts)
    pair_event = np.maximum.reduceat(event_rank[order], starts)
    del order, starts

    positive = pair_weight > 1e-9
    pair_key, pair_weight = pair_key[positive], pair_weight[positive]
    pair_event = pair_event[positive]
    pair_user = pair_key // n_items
    pair_item = pair_key % n_items

    capped = _cap_per_user(pair_user, pair_weight, config.max_items_per_user)
    # Stored types from here: the blocks' pairs are all held until they are joined.
    return (pair_user[capped].astype(np.int32), pair_item[capped].astype(np.int32),
            pair_weight[capped].astype(np.float32), pair_event[capped].astype(np.int8))


def _dense(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The codes in use, ascending, and each code's position among them."""
    used = np.bincount(codes, minlength=size) > 0
    position = np.cumsum(used) - 1
    return np.flatnonzero(used), position[codes]


def _cap_per_user(users: np.ndarray, weights: np.ndarray, cap: int) -> np.ndarray:
    """Boolean mask keeping each user's ``cap`` heaviest pairs."""
    counts = np.bincount(users)
    if counts.size == 0 or counts.max() <= cap:
        return np.ones(users.shape[0], dtype=bool)
    order = np.lexsort((-weights, users))
    group_start = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(users.shape[0]) - group_start[users[order]]
    keep = np.zeros(users.shape[0], dtype=bool)
    keep[order[rank < cap]] = True
    return keep


def _trending(
    item_code: np.ndarray,
    type_weight: np.ndarray,
    ts: np.ndarray,
    as_of_ms: int,
    n_items: int,
    config: BatchConfig,
) -> np.ndarray:
    """Recent, fast-decaying popularity per item; only positive signals count."""
    recent = ts >= as_of_ms - config.trending_window_days * DAY_MS
    age_days = (as_of_ms - ts[recent]) / DAY_MS
    score = np.clip(type_weight[recent], 0, None) * np.exp2(
        -age_days / config.trending_half_life_days
    )
    return np.bincount(item_code[recent], weights=score, minlength=n_items)


def _item_categories(column: pa.ChunkedArray, codes: np.ndarray, names: np.ndarray,
                     item_code: np.ndarray, ts: np.ndarray, n_items: int) -> np.ndarray:
    """Each item's most recently reported category ("" when none was ever sent), from the
    category ``column``'s codes and names (``encode``).

    Works on the dictionary codes of the category column: a Python string per event was
    a fifth of the weighting time at 20 M events.
    """
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    # Each item's latest report time, then its rows at that time (no sort by time: that
    # was a sixth of the weighting when rows came out of order). A slice of rows at a time:
    # the per-event scratch of all of them at once was the encoding's memory peak.
    newest = np.full(n_items, np.iinfo(np.int64).min, dtype=np.int64)
    for rows in _slices(valid):
        np.maximum.at(newest, item_code[rows], ts[rows])
    row = np.full(n_items, -1, dtype=np.int64)
    for rows in _slices(valid):
        rows = rows[ts[rows] == newest[item_code[rows]]]
        np.maximum.at(row, item_code[rows], rows)  # at equal times the later row wins
    return np.where(row >= 0, names[codes[np.maximum(row, 0)]], "")


def _slices(valid: np.ndarray) -> Iterator[np.ndarray]:
    """The indices of the true rows of ``valid``, BLOCK_EVENTS rows at a time."""
    for start in range(0, valid.size, BLOCK_EVENTS):
        yield start + np.flatnonzero(valid[start:start + BLOCK_EVENTS])


def _empty(as_of_ms: int) -> Interactions:
    empty_str = np.zeros(0, dtype="<U1")
    return Interactions(
        user_ids=empty_str,
        item_ids=empty_str,
        user_index=np.zeros(0, np.int32),
        item_index=np.zeros(0, np.int32),
        weight=np.zeros(0, np.float32),
        top_event=np.zeros(0, np.int8),
        item_category=empty_str,
        trending=np.zeros(0, np.float32),
        as_of_ms=as_of_ms,
    )
