"""Temporal splits of an events table: train on the past, test on what came after.

- ``global_time``: one cutoff for everyone; events at or after it are the test. The honest
  split: no model sees any event later than the cutoff.
- ``last_basket``: each user's last session (events separated by less than ``session_gap``)
  is their test; training keeps everyone's other events, so it may include other users'
  events after a given user's test (the usual leave-last-out caveat).

``validation`` carves the same kind of split out of a training part only, so tuning never
sees the test. Test users are those with events on both sides.

``shorten_histories`` cuts a hashed sample of a split's test users down to their last few
training events: real data rarely holds enough shoppers with a short history to tune or
measure anything on them, and a shop's newest shoppers are exactly those. The sample is
drawn by a hash of the user's key, not by anything they did, so it is the same users on
every run and on every machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recs.batch.sessions import SESSION_GAP_MS
from recs.batch.weighting import user_keys
from recs.exceptions import ValidationError

SPLITS = ("global-time", "last-basket")
DEFAULT_TEST_FRACTION = 0.1
DEFAULT_SESSION_GAP_MS = SESSION_GAP_MS
SHORT_KEEP = 3  # events a simulated short history keeps
SHORT_MIN_USERS = 300  # the share grows (up to a third) until the cohort has this many


@dataclass
class Split:
    train: pa.Table
    test: pa.Table
    as_of_ms: int  # training data lies strictly before this instant
    kind: str

    @property
    def test_users(self) -> np.ndarray:
        """Users with events on both sides, sorted."""
        train_users = np.unique(np.asarray(user_keys(self.train).to_pylist(), dtype=str))
        test_users = np.unique(np.asarray(user_keys(self.test).to_pylist(), dtype=str))
        return np.intersect1d(train_users, test_users)


def ts_ms(table: pa.Table) -> np.ndarray:
    column = table["ts"]
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    return column.to_numpy().astype(np.int64)


def global_time(table: pa.Table, test_fraction: float = DEFAULT_TEST_FRACTION,
                cutoff_ms: int | None = None) -> Split:
    """Events before the cutoff train; the last ``test_fraction`` of events (by time) test."""
    if table.num_rows < 2:
        raise ValidationError("events", "need at least two events to split")
    ts = ts_ms(table)
    if cutoff_ms is None:
        if not 0.0 < test_fraction < 1.0:
            raise ValidationError("test_fraction", "must lie in (0, 1)")
        cutoff_ms = int(np.quantile(ts, 1.0 - test_fraction, method="higher"))
        if cutoff_ms <= ts.min():
            cutoff_ms = int(ts.min()) + 1
    before = ts < cutoff_ms
    return Split(table.filter(pa.array(before)), table.filter(pa.array(~before)),
                 int(cutoff_ms), "global-time")


def last_basket(table: pa.Table, session_gap_ms: int = DEFAULT_SESSION_GAP_MS) -> Split:
    """Each user's last session is the test; users with a single session only train."""
    if table.num_rows < 2:
        raise ValidationError("events", "need at least two events to split")
    ts = ts_ms(table)
    _, user = np.unique(np.asarray(user_keys(table).to_pylist(), dtype=str), return_inverse=True)
    order = np.lexsort((ts, user))
    u, t = user[order], ts[order]
    new_user = np.r_[True, u[1:] != u[:-1]]
    new_session = new_user | np.r_[True, np.diff(t) > session_gap_ms]
    session_start = np.maximum.accumulate(np.where(new_session, np.arange(u.size), 0))
    last = np.r_[new_user[1:], True]  # last row of each user
    last_start = np.zeros(int(user.max()) + 1, dtype=np.int64)
    last_start[u[last]] = t[session_start[last]]
    first_ts = np.full(int(user.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, u, t)
    # A user's last session is test only when they had something before it.
    test = (ts >= last_start[user]) & (last_start[user] > first_ts[user])
    train = table.filter(pa.array(~test))
    as_of = int(ts[~test].max()) + 1 if (~test).any() else int(ts.min())
    return Split(train, table.filter(pa.array(test)), as_of, "last-basket")


def make(table: pa.Table, kind: str, test_fraction: float = DEFAULT_TEST_FRACTION) -> Split:
    if kind == "global-time":
        return global_time(table, test_fraction)
    if kind == "last-basket":
        return last_basket(table)
    raise ValidationError("split", f"must be one of {list(SPLITS)}, got {kind!r}")


def validation(split: Split, test_fraction: float = DEFAULT_TEST_FRACTION) -> Split:
    """The same kind of split carved out of ``split.train`` alone (for tuning)."""
    return make(split.train, split.kind, test_fraction)


def positive(table: pa.Table, positive_types: tuple[str, ...]) -> pa.Table:
    """Only events of the given types (the ones with a positive weight)."""
    return table.filter(pc.is_in(table["event_type"], pa.array(positive_types)))


def hash_fraction(keys: np.ndarray, salt: str = "") -> np.ndarray:
    """A fixed number in [0, 1) per key (the same on every run and machine); another
    ``salt`` gives an independent draw."""
    return np.array([int.from_bytes(hashlib.blake2b((salt + k).encode(), digest_size=8)
                                    .digest(), "big") / 2.0**64 for k in keys],
                    dtype=np.float64)


def shorten_histories(split: Split, share: float, keep: int = SHORT_KEEP,
                      min_users: int = SHORT_MIN_USERS, salt: str = ""
                      ) -> tuple[Split, np.ndarray]:
    """``split`` with a hashed sample of its test users' training events cut to their last
    ``keep``, and the sample's user keys (sorted).

    The sample is the test users whose key hashes below ``share``, or below
    ``min(min_users / test users, 1/3)`` when that is larger, so a small test set still
    gives a cohort of a few hundred without most users losing their history. A split carved
    from an already cut one wants another ``salt``: the same draw would pick mostly users
    whose history was already cut (and who, left with one basket, are no longer test users).
    """
    users = split.test_users
    if share <= 0 or users.size == 0:
        return split, np.empty(0, dtype=str)
    share = max(share, min(min_users / users.size, 1.0 / 3.0))
    cohort = users[hash_fraction(users, salt) < share]
    keys = np.asarray(user_keys(split.train).to_pylist(), dtype=str)
    in_cohort = np.isin(keys, cohort)
    rows = np.flatnonzero(in_cohort)
    # The cohort's rows by (user, time); a stable sort keeps the table's order among ties.
    order = rows[np.lexsort((ts_ms(split.train)[rows], keys[rows]))]
    sorted_keys = keys[order]
    last_of_user = np.r_[sorted_keys[1:] != sorted_keys[:-1], True]
    end = np.flatnonzero(last_of_user)
    start = np.r_[0, end[:-1] + 1]
    from_end = np.repeat(end, end - start + 1) - np.arange(order.size)
    drop = np.zeros(keys.size, dtype=bool)
    drop[order[from_end >= keep]] = True
    train = split.train.filter(pa.array(~drop))
    return dataclasses.replace(split, train=train), cohort
