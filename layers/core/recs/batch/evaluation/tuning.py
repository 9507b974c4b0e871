"""Automatic tuning for the nightly run: a small, time-boxed search on a validation split.

``tune(events, config, as_of_ms)`` carves a validation split out of the training window's
events (the same kind of temporal split evaluation uses: the last part of the window is the
validation, so tuning never sees anything after ``as_of``), plus a fold of the other kind
(global-time and last-basket: different users and moments, pooled, so each choice rests on
about twice the users and follows the validation noise less), then walks a small grid one
parameter at a time (coordinate descent: blend weight, half-life, discovery model
(item-item models, numpy implicit ALS, or the RP3beta + ALS ensemble), neighbours, the
discovery model again at the chosen neighbourhood size, shrinkage / RP3beta / ALS parameters
of the model kept, the ensemble's mix, popularity prior, then the blend weight again),
keeping each change only when it raises NDCG@K on the validation users by at least one
standard error of the paired per-user difference (smaller moves are noise: following them
tunes to the validation users, not to the shop). Every trial trains with the nightly code
(``weight_events`` + the configured algorithm + the same exclusions as ``train``), and a
setting the grid comes back to is not scored twice. When the time box runs out the best
setting so far is kept.

A window larger than ``config.tuning_max_events`` is tuned on a hashed sample of whole user
histories of about that size (``sample_users``), so the whole grid fits in the box at any
scale; the chosen setting then trains on the full window.

The blend's repeat weight is learned per category (the last stage checks that this beats one
weight for all categories on the validation users, else uses one): the grid picks a global
weight ``b``, and
each category's weight shifts it by the category's measured repeat odds,
``logit(b_c) = logit(b) + logit(s_c) - logit(s)``, where ``s_c`` is the share of the
category's validation interactions that were with items already in the user's history
(shrunk towards the global share ``s`` when the category has few observations). Categories
where nobody repeats get a weight near 0 (durables: bought items are not shown again); where
repeats are common, near 1.

It needs the window's *events* (not the aggregated interactions), since whether a user came
back to an item is only visible in the event times.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from recs.batch.config import BatchConfig, ensemble_members
from recs.batch.evaluation import core, metrics
from recs.batch.evaluation.split import Split, make, ts_ms
from recs.batch.training import exclusions, fit_algorithm
from recs.batch.weighting import DAY_MS, encode, user_keys
from recs.contracts.state import TuningRecord
from recs.exceptions import ValidationError

SHRINK_OBSERVATIONS = 20.0  # prior strength when shrinking a category's repeat share
MIN_CATEGORY_OBSERVATIONS = 5  # categories with fewer validation pairs use "*"
MAX_CATEGORIES = 5000
# Validation folds scored besides the requested kind: pooling a global-time and a last-basket
# fold (different users, different moments) roughly doubles the users behind each choice.
EXTRA_FOLDS: tuple[str, ...] = ("global-time", "last-basket")
# ALS (numpy CG) fits in about 30 s per 600k interactions on 2 CPUs, and the time box is only
# checked between trials: above this many window events the tuner does not try it.
ALS_MAX_EVENTS = 1_000_000
# A sampled window keeps at least this many users (see sample_users).
SAMPLE_MIN_USERS = 2_000

GRID: dict[str, tuple[Any, ...]] = {
    "blend_weight": (0.0, 0.3, 0.6, 0.9, 0.97, 0.995),
    "half_life_days": (1.0, 3.0, 7.0, 30.0, 120.0, 1000.0),
    "discovery": ("cosine", "bm25", "swing", "rp3beta", "als", "rp3beta+als"),
    "ensemble_weight": (0.3, 0.5, 0.7),
    "als_alpha": (1.0, 10.0),
    "als_regularization": (0.01, 0.1),
    "rp3_beta": (0.0, 0.25, 0.5),
    "rp3_alpha": (0.5, 1.0),
    "neighbours": (20, 50, 100, 200, 400),
    "shrinkage": (0.0, 10.0, 50.0),
    "blend_popularity": (0.0, 0.1, 0.3, 0.6),
}
STAGES_BLEND = ("blend_weight", "half_life_days", "discovery", "neighbours", "discovery",
                "shrinkage", "rp3_beta", "rp3_alpha", "als_alpha", "als_regularization",
                "ensemble_weight", "blend_popularity", "blend_weight", "per_category")
STAGES_KNN = ("half_life_days", "neighbours", "shrinkage")


@dataclass
class TuningResult:
    params: dict[str, Any]  # BatchConfig fields chosen (apply with ``apply``)
    config: BatchConfig
    metrics: dict[str, float]  # validation metrics of the chosen setting
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = True  # False when the time box cut the grid short
    # Events in the window, events tuned on, and the share of users kept (see sample_users).
    sample: dict[str, float] = field(default_factory=dict)

    def record(self) -> TuningRecord:
        """What the registry keeps beside the model version (small, JSON-ready)."""
        params = dict(self.params)
        weights = params.pop("blend_category_weights", {})
        return {"params": params, "category_weights": len(weights),
                "validation": self.metrics, "trials": len(self.trials),
                "seconds": round(self.seconds, 2), "complete": self.complete,
                "sample": self.sample}


def apply(config: BatchConfig, params: dict[str, Any]) -> BatchConfig:
    """``config`` with tuned parameters (unknown keys refused by ``dataclasses.replace``)."""
    return dataclasses.replace(config, **params)


def repeat_shares(split: Split, config: BatchConfig) -> tuple[float, dict[str, tuple[int, int]]]:
    """Global share of test (user, item) pairs already in the user's training history, and
    per category (repeats, pairs). Only positive event types count."""
    positive = [t for t, w in config.event_weights.items() if w > 0]

    def pairs(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        kinds = np.asarray(table["event_type"].to_pylist(), dtype=object)
        keep = np.isin(kinds, positive)
        users = np.asarray(user_keys(table).to_pylist(), dtype=str)[keep]
        items = np.asarray(table["item_id"].cast(pa.string()).to_pylist(), dtype=str)[keep]
        if "category" in table.column_names:
            cats = np.asarray(table["category"].cast(pa.string()).to_pylist(), dtype=object)[keep]
            cats = np.where(cats == None, "", cats).astype(str)  # noqa: E711
        else:
            cats = np.full(users.size, "", dtype=str)
        keys = np.char.add(np.char.add(users, "\x1f"), items)
        keys, first = np.unique(keys, return_index=True)
        return keys, cats[first]

    train_keys, _ = pairs(split.train)
    test_keys, test_cats = pairs(split.test)
    test_users = np.asarray([k.split("\x1f", 1)[0] for k in test_keys.tolist()], dtype=str)
    known_users = np.unique([k.split("\x1f", 1)[0] for k in train_keys.tolist()])
    seen = np.isin(test_users, known_users)  # only users with a history can repeat
    repeat = np.isin(test_keys, train_keys) & seen
    total = int(seen.sum())
    share = (float(repeat.sum()) + 1.0) / (total + 2.0)
    per: dict[str, tuple[int, int]] = {}
    cats = test_cats[seen]
    reps = repeat[seen]
    names, code = np.unique(cats, return_inverse=True)
    counts = np.bincount(code, minlength=names.size)
    repeats = np.bincount(code, weights=reps.astype(np.float64), minlength=names.size)
    for name, n, r in zip(names.tolist(), counts.tolist(), repeats.tolist(), strict=True):
        if name:
            per[name] = (int(r), int(n))
    return share, per


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def category_weights_for(weight: float, share: float,
                         per: dict[str, tuple[int, int]]) -> dict[str, float]:
    """Per-category repeat weights around the global ``weight`` (see the module docstring)."""
    if weight <= 0.0:
        return {"*": 0.0}
    out: dict[str, float] = {"*": round(float(weight), 4)}
    ranked = sorted(per.items(), key=lambda kv: -kv[1][1])[:MAX_CATEGORIES]
    base = _logit(weight) - _logit(share)
    for name, (repeats, n) in ranked:
        if n < MIN_CATEGORY_OBSERVATIONS:
            continue
        s_c = (repeats + SHRINK_OBSERVATIONS * share) / (n + SHRINK_OBSERVATIONS)
        out[name] = round(float(1.0 / (1.0 + np.exp(-(base + _logit(s_c))))), 4)
    return out


class _Trials:
    """Scores configurations on one or more validation folds, caching weighting and models.

    Each fold's per-user NDCG is kept under fold-prefixed user ids, so a paired comparison
    pools the users of every fold (more users: a less noisy choice)."""

    def __init__(self, splits: list[Split], k: int, share: float,
                 per: dict[str, tuple[int, int]]) -> None:
        self.splits, self.k, self.share, self.per = splits, k, share, per
        self.data: dict[tuple[int, float], core.EvalData] = {}
        self.models: dict[int, tuple[tuple[Any, ...], Any]] = {}
        self.trials: list[dict[str, Any]] = []
        self.seen: dict[tuple[str, bool], dict[str, Any]] = {}

    def run(self, config: BatchConfig, per_category: bool = True) -> dict[str, Any]:
        """Scores ``config``; a setting already scored (the grid revisits some, e.g. the
        second discovery stage when the neighbourhood size stayed) is not trained again."""
        key = (json.dumps(config.as_dict(), sort_keys=True), per_category)
        if key not in self.seen:
            self.seen[key] = self._run(config, per_category)
        return self.seen[key]

    def _run(self, config: BatchConfig, per_category: bool) -> dict[str, Any]:
        if config.algorithm == "blend":
            weights = (category_weights_for(config.blend_weight, self.share, self.per)
                       if per_category else {"*": config.blend_weight})
            config = dataclasses.replace(config, blend_category_weights=weights)
        started = time.perf_counter()
        sums = dict.fromkeys(metrics.METRICS, 0.0)
        counts = dict.fromkeys(metrics.METRICS, 0)
        users = 0
        ids: list[np.ndarray] = []
        values: list[np.ndarray] = []
        cfg = config
        for fold, split in enumerate(self.splits):
            data = self.data.get((fold, config.half_life_days))
            if data is None:
                data = core.prepare(split, config, self.k)
                self.data[(fold, config.half_life_days)] = data
            cfg = dataclasses.replace(data.config, **{
                f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in ("training_window_days", "num_recommendations")})
            fit_key = (cfg.half_life_days, cfg.algorithm, cfg.discovery, cfg.neighbours,
                       cfg.shrinkage, cfg.cosine_alpha, cfg.bm25_k1, cfg.bm25_b,
                       cfg.swing_alpha, cfg.rp3_alpha, cfg.rp3_beta, cfg.ease_l2,
                       cfg.ease_max_items, cfg.als_factors, cfg.als_regularization,
                       cfg.als_alpha, cfg.als_iterations, cfg.ensemble_weight)
            cached = self.models.get(fold)
            if cached is None or cached[0] != fit_key:
                model = fit_algorithm(data.interactions, cfg, data.x)
                self.models[fold] = (fit_key, model)  # one per fold: memory stays flat
            else:
                model = cached[1]
                if cfg.algorithm == "blend":
                    from recs.batch.training import category_weights

                    model.weight = cfg.blend_weight
                    model.popularity = cfg.blend_popularity
                    model.item_weight = category_weights(data.interactions.item_category,
                                                         cfg)[0]
            ranker = core.recommender_ranker(model, data.x,
                                             exclude=exclusions(model, data.interactions, cfg))
            result = core.score("trial", ranker, data, self.k, new_items=False)
            n = int(data.holdout.users.size)
            for m in metrics.METRICS:
                v = result.per_user[m]
                sums[m] += float(np.nansum(v))
                counts[m] += int(np.count_nonzero(~np.isnan(v)))
            users += n
            ids.append(np.char.add(f"{fold}\x1f", data.holdout.user_ids.astype(str)))
            values.append(result.per_user["ndcg"])
        out: dict[str, Any] = {m: sums[m] / max(counts[m], 1) for m in metrics.METRICS}
        out["users"] = float(users)
        out["seconds"] = time.perf_counter() - started
        self.trials.append({"params": _tuned_fields(cfg), "per_category": per_category, **out})
        all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=str)
        order = np.argsort(all_ids, kind="stable")
        all_values = np.concatenate(values) if values else np.zeros(0)
        out["per_user"] = (all_ids[order], all_values[order])
        return out


def better(candidate: dict[str, Any], best: dict[str, Any]) -> bool:
    """A change is kept only when its paired gain on the validation users is at least one
    standard error: moves inside the noise would tune to the validation users, not the shop."""
    (ids_a, a), (ids_b, b) = candidate["per_user"], best["per_user"]
    # Settings may lose users (a short half-life drops old histories): compare on the union
    # of validation users, a user a setting cannot serve scoring 0 for it.
    ids = np.union1d(ids_a, ids_b)
    va, vb = np.zeros(ids.size), np.zeros(ids.size)
    va[np.searchsorted(ids, ids_a)] = np.nan_to_num(a)
    vb[np.searchsorted(ids, ids_b)] = np.nan_to_num(b)
    p = metrics.paired(va, vb)
    if p.n < 2 or not p.mean > 0:
        return False
    return p.mean >= (p.high - p.low) / 2 / metrics.Z95


def _tuned_fields(config: BatchConfig) -> dict[str, Any]:
    names = ("algorithm", "half_life_days", "neighbours", "shrinkage", "discovery",
             "rp3_beta", "rp3_alpha", "als_alpha", "als_regularization", "ensemble_weight",
             "blend_weight", "blend_popularity")
    return {n: getattr(config, n) for n in names}


def window(table: pa.Table, config: BatchConfig, as_of_ms: int | None) -> pa.Table:
    """The training window's events: ``[as_of - window, as_of)``."""
    if as_of_ms is None:
        return table
    ts = ts_ms(table)
    keep = (ts < as_of_ms) & (ts >= as_of_ms - config.training_window_days * DAY_MS)
    # The nightly window keeps every row: no copy of the table then (0.9 GB at 20 M events).
    return table if keep.all() else table.filter(pa.array(keep))


def sample_users(table: pa.Table, max_events: int,
                 min_users: int | None = None) -> tuple[pa.Table, float]:
    """A hashed sample of whole user histories holding about ``max_events`` events (but at
    least ``min_users`` users, default ``SAMPLE_MIN_USERS``), and the share of users kept
    (1.0, and the table itself, when it is already small enough).

    Whole histories, so every kept user splits and scores as in the full window; a hash of
    the user key, not a random draw, so consecutive nights tune on the same users and the
    choices do not wander with the draw. The user floor is there because a sample with few
    validation users tunes to noise: on MovieLens, tuning on half its 610 users cost
    0.035 NDCG@20 on the test."""
    if table.num_rows <= max_events:
        return table, 1.0
    codes, names = encode(user_keys(table))
    hashes = np.fromiter((zlib.crc32(n.encode()) for n in names.tolist()), np.uint64,
                         names.size)
    # Keep the users with the smallest hashes until about max_events events are in.
    order = np.argsort(hashes, kind="stable")
    sizes = np.bincount(codes, minlength=names.size)[order]
    count = max(int(np.searchsorted(np.cumsum(sizes), max_events, side="right")),
                min(SAMPLE_MIN_USERS if min_users is None else min_users, names.size), 1)
    kept = np.zeros(names.size, dtype=bool)
    kept[order[:count]] = True
    return table.filter(pa.array(kept[codes])), count / names.size


def tune(
    events: pa.Table,
    config: BatchConfig,
    as_of_ms: int | None = None,
    k: int = 20,
    split: str = "global-time",
    budget_seconds: float | None = None,
    test_fraction: float = 0.1,
    grid: dict[str, tuple[Any, ...]] | None = None,
    extra_folds: tuple[str, ...] | None = None,
) -> TuningResult:
    """Choose parameters for ``config.algorithm`` on a validation split of ``events``.

    Besides the ``split`` kind, each trial is also scored on a validation split of each kind
    in ``extra_folds`` (default ``EXTRA_FOLDS``: both kinds), carved from the same window, and
    the users of all folds are pooled."""
    started = time.perf_counter()
    budget = config.tuning_seconds if budget_seconds is None else budget_seconds
    deadline = started + budget
    grid = {**GRID, **(grid or {})}
    table = window(events, config, as_of_ms)
    window_events = table.num_rows
    table, users_share = sample_users(table, config.tuning_max_events)
    valid = make(table, split, test_fraction)
    share, per = repeat_shares(valid, config)
    folds = [valid]
    for kind in (extra_folds if extra_folds is not None else EXTRA_FOLDS):
        if kind == split:
            continue
        try:
            fold = make(table, kind, test_fraction)
        except ValidationError:
            continue
        if fold.train.num_rows and fold.test.num_rows and fold.test_users.size:
            folds.append(fold)
    trials = _Trials(folds, k, share, per)
    best_config, per_category = config, True
    best = trials.run(config)
    stages = STAGES_BLEND if config.algorithm == "blend" else STAGES_KNN
    complete = True
    for name in stages:
        parts = set(ensemble_members(best_config.discovery))
        if name == "shrinkage" and (
                config.algorithm == "blend" and not parts & {"cosine", "tfidf"}):
            continue
        if name in ("rp3_beta", "rp3_alpha") and "rp3beta" not in parts:
            continue
        if name in ("als_alpha", "als_regularization") and "als" not in parts:
            continue
        if name == "ensemble_weight" and len(parts) < 2:
            continue
        if name == "neighbours" and (
                config.algorithm == "blend" and parts <= {"als", "popularity"}):
            continue
        if name == "per_category":  # per-category repeat weights, or one for all
            if time.perf_counter() > deadline:
                complete = False
                continue
            result = trials.run(best_config, per_category=False)
            if better(result, best):
                best, per_category = result, False
            continue
        for value in grid[name]:
            if time.perf_counter() > deadline:
                complete = False
                break
            if getattr(best_config, name) == value:
                continue
            if (name == "discovery" and "als" in ensemble_members(value)
                    and window_events > ALS_MAX_EVENTS):
                continue
            candidate = dataclasses.replace(best_config, **{name: value})
            result = trials.run(candidate, per_category)
            if better(result, best):
                best, best_config = result, candidate
    params = _tuned_fields(best_config)
    params.pop("algorithm")
    if best_config.algorithm == "blend":
        params["blend_category_weights"] = (
            category_weights_for(best_config.blend_weight, share, per) if per_category
            else {"*": best_config.blend_weight})
    chosen = apply(config, params)
    summary: dict[str, float] = {m: round(float(best[m]), 6) for m in (*metrics.METRICS, "users")}
    summary["repeat_share"] = round(share, 4)
    return TuningResult(params, chosen, summary, trials.trials,
                        time.perf_counter() - started, complete,
                        sample={"window_events": window_events, "events": table.num_rows,
                                "users_share": round(users_share, 4)})
