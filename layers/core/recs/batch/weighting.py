"""Turn raw events into weighted (user, item) interactions.

weight = event-type weight x 0.5 ** (age / half-life), summed per (user, item); a pair whose
sum is not positive (a return cancelling a purchase) is dropped; each user keeps at most
``max_items_per_user`` pairs, the strongest, so bots and resellers cannot dominate the
co-occurrence counts. Age is measured from ``as_of`` (the end of the training window), never
from the wall clock, so re-running a day reproduces its model.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recs.batch.interactions import EVENT_CODE, SESSION_PREFIX, Interactions
from recs.config import BatchConfig

DAY_MS = 86_400_000

EVENT_COLUMNS = ("event_id", "user_id", "session_id", "item_id", "event_type", "ts", "category")


def deduplicate(table: pa.Table) -> pa.Table:
    """Keep the first row of each ``event_id``: SQS delivers at least once.

    One hash pass (dictionary encoding) both answers "any duplicates?" and, when there are
    some, numbers the ids so the first row of each is found with integer work only;
    ``count_distinct`` followed by a group-by hashed the strings twice, and 2-3x slower.
    """
    if table.num_rows == 0 or "event_id" not in table.column_names:
        return table
    encoded = table["event_id"].combine_chunks().dictionary_encode()
    if len(encoded.dictionary) == table.num_rows:
        return table
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    return table.take(pa.array(np.sort(first)))


def user_keys(table: pa.Table) -> pa.ChunkedArray:
    """``user_id``, or the session id marked as anonymous when there is no user id."""
    users = table["user_id"].cast(pa.string())
    if "session_id" not in table.column_names:
        return users
    sessions = pc.binary_join_element_wise(
        pa.scalar(SESSION_PREFIX), table["session_id"].cast(pa.string()), pa.scalar("")
    )
    return pc.coalesce(users, sessions)


def encode(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a string column and the distinct values they index (one hash pass
    in Arrow; a Python string per row is what made large windows slow). Encoded per chunk,
    then under one dictionary, so no single array nears Arrow's 2 GB string limit. A null
    gets code 0: callers that allow nulls mask them with ``is_valid``. Codes are int32, as
    Arrow makes them (half the memory of int64 at tens of millions of rows)."""
    encoded = column.dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int32)
    values = np.asarray(encoded.dictionary.to_pylist(), dtype=str)
    return codes, values


def _timestamps_ms(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    return column.to_numpy().astype(np.int64)


def weight_events(table: pa.Table, config: BatchConfig, as_of_ms: int) -> Interactions:
    """Aggregate a table with ``EVENT_COLUMNS`` into ``Interactions`` as of ``as_of_ms``."""
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
        return _empty(as_of_ms)

    # Arrays per event are the weighting's memory at scale: each is dropped once used.
    user_code, user_ids = encode(user_keys(table))
    item_code, item_ids = encode(table["item_id"].cast(pa.string()))
    type_code, type_names = encode(table["event_type"].cast(pa.string()))
    type_weight = np.array([config.weight_of(t) for t in type_names], dtype=np.float64)
    event_weight = type_weight[type_code]
    event_rank = np.array([EVENT_CODE.get(t, -1) for t in type_names], dtype=np.int8)[type_code]
    del type_code

    w = (as_of_ms - ts).astype(np.float64)  # age in days, then its decay, in place
    w /= DAY_MS
    w /= -config.half_life_days
    np.exp2(w, out=w)
    w *= event_weight

    n_items = len(item_ids)
    pair = user_code.astype(np.int64)
    del user_code
    pair *= n_items
    pair += item_code
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    pair_key = pair[starts]
    del pair
    pair_weight = np.add.reduceat(w[order], starts)
    del w
    pair_event = np.maximum.reduceat(event_rank[order], starts)
    del event_rank
    pair_last = np.maximum.reduceat(ts[order], starts)
    del order, starts

    positive = pair_weight > 1e-9
    pair_key, pair_weight = pair_key[positive], pair_weight[positive]
    pair_event, pair_last = pair_event[positive], pair_last[positive]
    pair_user = pair_key // n_items
    pair_item = pair_key % n_items

    capped = _cap_per_user(pair_user, pair_weight, config.max_items_per_user)
    pair_user, pair_item = pair_user[capped], pair_item[capped]
    pair_weight, pair_event, pair_last = pair_weight[capped], pair_event[capped], pair_last[capped]

    # Drop users and items left without any positive pair, re-indexing densely (counts, not
    # np.unique: its sorts were an eighth of the weighting at 20 M events).
    used_users, pair_user = _dense(pair_user, len(user_ids))
    used_items, pair_item = _dense(pair_item, n_items)

    trending = _trending(item_code, event_weight, ts, as_of_ms, n_items, config)
    categories = _item_categories(table, item_code, ts, n_items)
    return Interactions(
        user_ids=user_ids[used_users],
        item_ids=item_ids[used_items],
        user_index=pair_user.astype(np.int32),
        item_index=pair_item.astype(np.int32),
        weight=pair_weight.astype(np.float32),
        top_event=pair_event.astype(np.int8),
        last_ts=pair_last.astype(np.int64),
        item_category=categories[used_items],
        trending=trending[used_items].astype(np.float32),
        as_of_ms=as_of_ms,
    )


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


def _item_categories(
    table: pa.Table, item_code: np.ndarray, ts: np.ndarray, n_items: int
) -> np.ndarray:
    """Each item's most recently reported category ("" when none was ever sent).

    Works on the dictionary codes of the category column: a Python string per event was
    a fifth of the weighting time at 20 M events.
    """
    if "category" not in table.column_names:
        return np.full(n_items, "", dtype=str)
    column = table["category"].cast(pa.string())
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    if not valid.any():
        return np.full(n_items, "", dtype=str)
    codes, names = encode(column)
    idx = np.flatnonzero(valid)
    # Each item's latest report time, then its rows at that time (no sort by time: that
    # was a sixth of the weighting when rows came out of order).
    newest = np.full(n_items, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(newest, item_code[idx], ts[idx])
    idx = idx[ts[idx] == newest[item_code[idx]]]
    row = np.full(n_items, -1, dtype=np.int64)
    np.maximum.at(row, item_code[idx], idx)  # at equal times the later row wins
    return np.where(row >= 0, names[codes[np.maximum(row, 0)]], "")


def _empty(as_of_ms: int) -> Interactions:
    empty_str = np.zeros(0, dtype="<U1")
    return Interactions(
        user_ids=empty_str,
        item_ids=empty_str,
        user_index=np.zeros(0, np.int32),
        item_index=np.zeros(0, np.int32),
        weight=np.zeros(0, np.float32),
        top_event=np.zeros(0, np.int8),
        last_ts=np.zeros(0, np.int64),
        item_category=empty_str,
        trending=np.zeros(0, np.float32),
        as_of_ms=as_of_ms,
    )
