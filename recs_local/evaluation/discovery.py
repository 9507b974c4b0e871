"""The discovery comparison: lists of items new to the shopper, tuned and scored on that.

A discovery list has every item the shopper interacted with removed (``exclude=seen``), so
its measure is NDCG@K of the test items new to the user (``core.score``'s ``new`` view, where
every ranker is asked to filter known items: implicit's ``filter_already_liked_items=True``).
Each candidate's grid is tried on the validation split once, scoring both objectives, and it
is refitted with the best setting for each: the next-basket one (all test items) and the
discovery one. "Ours" in the discovery comparison is the one of our models with the best
validation score on discovery, chosen before the test is looked at.

Session-based candidates need what the user-item matrix has lost: which events came together
(a basket, a visit) and in what order. ``SessionData`` holds, for one prepared split, the
sessions x items matrix (a session is the ``session_id``, or a shopper's events with less
than ``gap_ms`` between them) and each shopper's position-weighted recent events, both in
the prepared data's item index.

Short histories are scored on two cohorts: the *natural* one (test users with at most
``SHORT_EVENTS`` training events as the data has them, few on the shared datasets) and the
*simulated* one (``split.shorten_histories``: a hashed sample of test users whose training
events were cut to their last ``SHORT_EVENTS`` before anything was tuned or trained; the
natural cohort leaves those users out). Every model is scored on the same users of each.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recs.algorithms.base import Recommender
from recs.algorithms.registry import create
from recs.algorithms.sknn import position_weights
from recs.batch.config import BatchConfig
from recs.batch.evaluation import core, metrics
from recs.batch.evaluation.split import DEFAULT_SESSION_GAP_MS, ts_ms
from recs.batch.weighting import DAY_MS, user_keys
from recs_local.evaluation.run import SHORT_KEEP, Candidate

SHORT_EVENTS = SHORT_KEEP


@dataclass
class SessionData:
    sessions: sp.csr_matrix  # sessions x items: summed event weights, times the recency
    queries: sp.csr_matrix  # users x items: each user's last events, position-weighted


def _positive(table: pa.Table, config: BatchConfig) -> pa.Table:
    kinds = [t for t, w in config.event_weights.items() if w > 0]
    return table.filter(pc.is_in(table["event_type"], pa.array(kinds)))


def session_data(train: pa.Table, data: core.EvalData, decay: float = 0.8,
                 last: int = 20, gap_ms: int = DEFAULT_SESSION_GAP_MS) -> SessionData:
    """Sessions and position-weighted queries of ``train`` in ``data``'s indices."""
    t = _positive(train, data.config)
    users = np.asarray(user_keys(t).to_pylist(), dtype=str)
    items = core.index_of(np.asarray(data.interactions.item_ids, dtype=str),
                           np.asarray(t["item_id"].cast(pa.string()).to_pylist(), dtype=str))
    rows = core.index_of(np.asarray(data.interactions.user_ids, dtype=str), users)
    ts = ts_ms(t)
    weight = np.asarray([data.config.weight_of(e) for e in t["event_type"].to_pylist()],
                        dtype=np.float32)
    keep = (items >= 0) & (rows >= 0)
    users, items, rows, ts, weight = users[keep], items[keep], rows[keep], ts[keep], weight[keep]
    order = np.lexsort((ts, rows))
    users, items, rows, ts, weight = (users[order], items[order], rows[order], ts[order],
                                      weight[order])
    n_items = data.x.shape[1]

    # Sessions: the session id where there is one, else a gap of gap_ms starts a new one.
    sid = t["session_id"].filter(pa.array(keep)).take(pa.array(order)) if (
        "session_id" in t.column_names) else None
    new_user = np.r_[True, rows[1:] != rows[:-1]]
    if sid is not None and sid.null_count == 0 and len(sid):
        ids = np.asarray(sid.cast(pa.string()).to_pylist(), dtype=str)
        _, session = np.unique(np.char.add(np.char.add(users, "|"), ids), return_inverse=True)
    else:
        starts = new_user | np.r_[True, np.diff(ts) > gap_ms]
        session = np.cumsum(starts) - 1
    n_sessions = int(session.max()) + 1 if session.size else 0
    last_ts = np.full(n_sessions, np.iinfo(np.int64).min)
    np.maximum.at(last_ts, session, ts)
    half_life = data.config.half_life_days * DAY_MS
    recency = np.power(0.5, (data.as_of_ms - last_ts) / half_life).astype(np.float32)
    s = sp.csr_matrix((weight * recency[session], (session, items)),
                      shape=(n_sessions, n_items), dtype=np.float32)
    s.sum_duplicates()

    # Queries: each user's last ``last`` events, the latest weighing 1.
    position_from_end = np.zeros(rows.size, dtype=np.int64)
    if rows.size:
        user_end = np.r_[np.flatnonzero(new_user)[1:], rows.size]
        ends = np.repeat(user_end, np.diff(np.r_[np.flatnonzero(new_user), rows.size]))
        position_from_end = ends - 1 - np.arange(rows.size)
    recent = position_from_end < last
    steps = position_weights(last, decay)[::-1]  # steps[p]: p events before the last
    q = sp.csr_matrix((weight[recent] * steps[position_from_end[recent]],
                       (rows[recent], items[recent])),
                      shape=(data.x.shape[0], n_items), dtype=np.float32)
    q.sum_duplicates()
    return SessionData(s, q)


def short_users(train: pa.Table, holdout: core.Holdout, max_events: int = SHORT_EVENTS
                ) -> np.ndarray:
    """Test users with at most ``max_events`` training events of any type."""
    users, counts = np.unique(np.asarray(user_keys(train).to_pylist(), dtype=str),
                              return_counts=True)
    where = core.index_of(users, np.asarray(holdout.user_ids, dtype=str))
    events = np.where(where >= 0, counts[np.maximum(where, 0)], 0)
    return events <= max_events


def in_cohort(holdout: core.Holdout, cohort: np.ndarray) -> np.ndarray:
    """Which test users are in ``cohort`` (user keys)."""
    return np.isin(np.asarray(holdout.user_ids, dtype=str), np.asarray(cohort, dtype=str))


def cohorts(train: pa.Table, holdout: core.Holdout, simulated: np.ndarray
            ) -> list[tuple[str, np.ndarray]]:
    """The short-history cohorts as (column label, test-user mask): the natural one (not
    counting simulated users) and, when there is one, the simulated one."""
    sim = in_cohort(holdout, simulated)
    natural = short_users(train, holdout) & ~sim
    out = [(f"≤{SHORT_EVENTS} events, natural", natural)]
    if simulated.size:
        out.append((f"simulated short (last {SHORT_EVENTS} events)", sim))
    return out


def best_on(results: Sequence[core.Result], mask: np.ndarray) -> core.Result:
    """The result with the best mean NDCG on new items over the ``mask`` users."""
    def mean(r: core.Result) -> float:
        v = r.per_user_new["ndcg"][mask]
        v = v[~np.isnan(v)]
        return float(v.mean()) if v.size else 0.0

    return max(results, key=mean)


class SessionRegistry:
    """The ``SessionData`` of each prepared split, by identity (builds see only the data)."""

    def __init__(self) -> None:
        self._by_id: dict[int, SessionData] = {}

    def add(self, data: core.EvalData, sessions: SessionData) -> None:
        self._by_id[id(data)] = sessions

    def __getitem__(self, data: core.EvalData) -> SessionData:
        return self._by_id[id(data)]


def _ranker(model: Recommender, queries: sp.csr_matrix, known: sp.csr_matrix,
            filter_liked: bool) -> core.Ranker:
    """Rank from ``queries`` rows; known items (the whole history) are dropped on request."""

    def rank(users: np.ndarray, k: int, filter_known: bool) -> np.ndarray:
        rows = np.maximum(users, 0)
        q = sp.csr_matrix(queries[rows])
        ex = sp.csr_matrix(known[rows]) if (filter_known or filter_liked) else None
        return model.rank(q, k, filter_already_liked_items=False, exclude=ex).padded(k)[0]

    return rank


def session_candidate(name: str, algorithm: str, registry: SessionRegistry,
                      grid: Sequence[dict[str, Any]], fit_on: str = "sessions",
                      query: str = "history") -> Candidate:
    """``algorithm`` fitted on sessions (or the user-item matrix) and queried with the
    user's weighted history or their position-weighted recent events."""

    def build(params: dict[str, Any], data: core.EvalData) -> tuple[core.Ranker, float]:
        p = dict(params)
        filter_liked = bool(p.pop("filter", False))
        s = registry[data]
        started = time.perf_counter()
        model = create(algorithm, **p)
        model.fit(s.sessions if fit_on == "sessions" else data.x)
        q = s.queries if query == "recent" else data.x
        return _ranker(model, q, data.x, filter_liked), time.perf_counter() - started

    return Candidate(name, [{**g, "filter": f} for g in grid for f in (False, True)], build)


@dataclass
class Tuned:
    main: core.Result
    discovery: core.Result
    valid_discovery: float  # the best validation NDCG on items new to the user
    # That setting's per-user validation NDCG on new items (NaN: no new validation item).
    valid_new: np.ndarray = field(default_factory=lambda: np.empty(0))


def tune_both(cand: Candidate, valid: core.EvalData, data: core.EvalData, k: int) -> Tuned:
    """Try the grid on ``valid`` once, pick the best setting for each objective, refit each
    on ``data`` and score it on the test (both views)."""
    best_main, best_new = (-1.0, dict(cand.grid[0])), (-1.0, dict(cand.grid[0]))
    valid_new = np.full(valid.holdout.users.size, np.nan)
    seen_new: set[str] = set()
    for params in cand.grid:
        ranker, _ = cand.build(params, valid)
        key = repr(sorted((a, b) for a, b in params.items() if a != "filter"))
        new = key not in seen_new  # the discovery view ignores ``filter``: score it once
        seen_new.add(key)
        result = core.score(cand.name, ranker, valid, k, new_items=new)
        if len(cand.grid) > 1 and result.mean("ndcg") > best_main[0]:
            best_main = (result.mean("ndcg"), dict(params))
        if new and result.mean("ndcg", True) > best_new[0]:
            best_new = (result.mean("ndcg", True), dict(params))
            valid_new = result.per_user_new["ndcg"]
    ranker, seconds = cand.build(best_main[1], data)
    main = core.score(cand.name, ranker, data, k, seconds, best_main[1])
    if best_new[1] == best_main[1]:
        discovery = main
    else:
        ranker, seconds = cand.build(best_new[1], data)
        discovery = core.score(cand.name, ranker, data, k, seconds, best_new[1])
    return Tuned(main, discovery, best_new[0], valid_new)


def short_scores(tuned: dict[str, Tuned], names: Sequence[str], valid_short: np.ndarray
                 ) -> dict[str, float]:
    """Each model's mean validation NDCG on new items over the short validation users
    (-1 when none of them has a new item)."""
    out = {}
    for name in names:
        v = tuned[name].valid_new
        v = v[valid_short] if v.size == valid_short.size else np.empty(0)
        v = v[~np.isnan(v)]
        out[name] = float(v.mean()) if v.size else -1.0
    return out


def routed(tuned: dict[str, Tuned], own: Sequence[str], chosen: str,
           valid_short: np.ndarray, test_short: np.ndarray) -> core.Result:
    """Our discovery list when short histories get a model of their own: the one of ``own``
    best on the validation users with a short history (``valid_short``), the others keeping
    ``chosen``; both picked on validation before the test is looked at. The short model
    replaces ``chosen`` only where it beats it on those users, paired, with a 95 % interval
    above zero: with a few dozen of them the best mean is mostly noise.

    A user's metrics depend only on their own list, so the routed result on the test is each
    short user's (``test_short``) metrics from the short model and everyone else's from
    ``chosen``: exactly what serving each user from their model would score.
    """
    scores = short_scores(tuned, own, valid_short)

    def short_mean(name: str) -> float:
        return scores[name]

    pick = max(own, key=short_mean)
    if pick != chosen and tuned[pick].valid_new.size == valid_short.size:
        p = metrics.paired(tuned[pick].valid_new[valid_short],
                           tuned[chosen].valid_new[valid_short])
        if not p.low > 0:  # (NaN with a single user)
            pick = chosen
    a, b = tuned[chosen].discovery, tuned[pick].discovery

    def mix(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {m: np.where(test_short, y[m], x[m]) for m in x}

    seconds = a.fit_seconds + (b.fit_seconds if pick != chosen else 0.0)
    return core.Result(f"ours, short histories routed (≤{SHORT_EVENTS} events: {pick})",
                       mix(a.per_user, b.per_user), mix(a.per_user_new, b.per_user_new),
                       float("nan"), seconds,
                       {"short": pick, "short validation": round(short_mean(pick), 4),
                        "others": chosen})


def _cell(values: np.ndarray) -> str:
    e = metrics.estimate(values[~np.isnan(values)])
    if e.n <= 1:  # no interval from one user
        return "-" if e.n == 0 else f"{e.mean:.4f}"
    return f"{e.mean:.4f} ± {(e.high - e.low) / 2:.4f}"


def paired_text(a: core.Result, b: core.Result, mask: np.ndarray | None = None) -> str:
    va, vb = a.per_user_new["ndcg"], b.per_user_new["ndcg"]
    if mask is not None:
        va, vb = va[mask], vb[mask]
    p = metrics.paired(va, vb)
    return (f"{a.name} - {b.name}: {p.mean:+.4f} [{p.low:+.4f}, {p.high:+.4f}] over {p.n} "
            f"users (wins {p.wins}, losses {p.losses}): {p.verdict}")


def table(rows: Sequence[tuple[str, core.Result, float]],
          columns: Sequence[tuple[str, np.ndarray]], k: int) -> str:
    """One line per model: discovery NDCG on all users and on each cohort of ``columns``
    (label, test-user mask), validation, time."""
    def scored(mask: np.ndarray) -> int:  # users with a new test item (the others are NaN)
        return int((~np.isnan(rows[0][1].per_user_new["ndcg"][mask])).sum()) if rows else 0

    extra = "".join(f" {label} ({scored(mask)} users) |" for label, mask in columns)
    head = f"| model | NDCG@{k} new items, all users |{extra} validation | train s | setting |"
    lines = [head, "|" + "---|" * (5 + len(columns))]
    for label, r, valid in rows:
        params = {a: b for a, b in r.params.items() if a != "filter"}
        cells = "".join(f" {_cell(r.per_user_new['ndcg'][mask])} |" for _, mask in columns)
        lines.append(f"| {label} | {_cell(r.per_user_new['ndcg'])} |{cells} "
                     f"{'-' if valid < 0 else f'{valid:.4f}'} | {r.fit_seconds:.2f} | "
                     f"{params or ''} |")
    return "\n".join(lines)
