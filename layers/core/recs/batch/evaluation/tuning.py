"""Automatic tuning for the nightly run: a small, time-boxed search on a validation split.

``tune(events, config, as_of_ms)`` carves a validation split out of the training window's
events (the same kind of temporal split evaluation uses: the last part of the window is the
validation, so tuning never sees anything after ``as_of``), plus a fold of the other kind
(global-time and last-basket: different users and moments, pooled, so each choice rests on
about twice the users and follows the validation noise less), then walks a small grid one
parameter at a time (coordinate descent), keeping each change only when it raises NDCG@K on
the validation users by at least one standard error of the paired per-user difference
(smaller moves are noise: following them tunes to the validation users, not to the shop).
Every trial trains with the nightly code (``weight_events`` + the configured algorithm +
the same exclusions as ``train``), and a setting the grid comes back to is not scored twice.
When the time box runs out the best setting so far is kept.

Two objectives: a model with a discovery part (the blend) has that part chosen for the
list of items new to the user (``exclude=seen``: NDCG@K of the validation items the user
had not interacted with, every known item left out of the ranking) and the rest for the
next basket (NDCG@K of every validation item, repeats included). The discovery settings are
the parameter naming the part, every setting of the models it may name, and the parameters
declared ``new_items_only`` (the popularity prior); each stage of the one descent is judged
on its own objective, against the current best setting's score on it. Both choices and both
scores are in the record (``validation`` and ``discovery``).

Last, short histories (``short_discovery``): for a model with a discovery part, each fold
is copied with a hashed fifth of its validation users (at least 300, at most a third) cut
to their last ``short_history_items`` events (``split.shorten_histories``), since real windows
hold few shoppers that new, and session kNN (over the window's sessions, then over whole
shoppers: ``SHORT_EXTRA``) and every discovery model of the grid are tried as the part for the
validation users whose history is that short.
The best of them replaces the main part for such shoppers only when its paired gain on
items new to them has a 95 % interval above zero and their next-basket score is not
significantly worse; a route is a second model to fit every night, and a few hundred users'
best mean alone is mostly noise. The descent leaves this stage a quarter of the time box
(``SHORT_BUDGET_SHARE``); the record says what was tried and why (``short``).

The grid and its order come from the algorithms' declarations (``recs.algorithms.catalog``):
each tuned parameter names its setting, its values and its place (``stages``). For the
default blend that is: blend weight, half-life, discovery model (item-item models, numpy
implicit ALS, or the RP3beta + ALS ensemble), neighbours, the discovery model again at the
chosen neighbourhood size, the parameters of the discovery model kept (shrinkage, RP3beta's,
ALS's, the ensemble's mix), the popularity prior, the blend weight again, then per-category
weights. A stage runs only while the algorithm, as configured at that point, reads its
setting, and a model is not tried on a window larger than it declares it can fit in time.

A window larger than ``config.tuning_max_events`` is tuned on a hashed sample of whole user
histories of about that size (``sample_users``), so the whole grid fits in the box at any
scale; the chosen setting then trains on the full window.

The repeat weight of a model taking item weights (the blend) is learned per category (the
last stage checks that this beats one weight for all categories on the validation users,
else uses one): the grid picks a global weight ``b``, and each category's weight shifts it
by the category's measured repeat odds,
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from recs.algorithms import catalog
from recs.batch.config import BatchConfig
from recs.batch.evaluation import core, metrics
from recs.batch.evaluation.split import Split, make, shorten_histories, ts_ms
from recs.batch.training import (
    algorithm_params,
    category_weights,
    exclusions,
    fit_algorithm,
    short_config,
)
from recs.batch.weighting import DAY_MS, encode, user_keys
from recs.contracts.state import TuningRecord
from recs.exceptions import ValidationError

SHRINK_OBSERVATIONS = 20.0  # prior strength when shrinking a category's repeat share
MIN_CATEGORY_OBSERVATIONS = 5  # categories with fewer validation pairs use "*"
MAX_CATEGORIES = 5000
# Validation folds scored besides the requested kind: pooling a global-time and a last-basket
# fold (different users, different moments) roughly doubles the users behind each choice.
EXTRA_FOLDS: tuple[str, ...] = ("global-time", "last-basket")
# A sampled window keeps at least this many users (see sample_users).
SAMPLE_MIN_USERS = 2_000

# The weighting's own grid; every algorithm setting's comes from its declaration.
WEIGHTING_GRID: dict[str, tuple[Any, ...]] = {
    "half_life_days": (1.0, 3.0, 7.0, 30.0, 120.0, 1000.0),
}
GRID: dict[str, tuple[Any, ...]] = {**WEIGHTING_GRID, **catalog.grids()}
PER_CATEGORY = "per_category"  # the stage choosing per-category repeat weights or one
# Discovery models tried for short histories besides the grid's: session kNN, which the
# session-based recommendation literature finds best when a session is all there is.
SHORT_EXTRA: tuple[str, ...] = ("sknn_sessions", "sknn")
SHORT_SHARE = 0.2  # validation users whose history the short stage cuts (see shorten_histories)
SHORT_BUDGET_SHARE = 0.25  # of the time box, kept for the short stage


def stages(algorithm: str, config: BatchConfig, grid: dict[str, tuple[Any, ...]]) -> list[str]:
    """The settings the coordinate descent walks for ``algorithm``, in order.

    The algorithm's ``lead`` parameters first, then the weighting, its ``choice`` parameters
    (which model is a part), the ``early`` parameters of every model it may be made of (the
    choices' grid values and the configured parts), the choices again, their ``late`` ones
    (parts' before the algorithm's own), the lead ones again, and per-category repeat weights
    for a model taking item weights. Each runs only when it applies (see ``applies``)."""
    settings = config.as_dict()
    top = catalog.spec(algorithm)
    tuned = [(p.setting, p.tune) for p in top.params if p.grid and p.setting is not None]
    lead = [setting for setting, tune in tuned if tune == "lead"]
    choice = [setting for setting, tune in tuned if tune == "choice"]
    early: list[str] = []
    late: list[str] = []

    def visit(name: str, extra: list[str]) -> None:
        for part in [*extra, *catalog.parts(name, settings)]:
            visit(part, [])
        for p in catalog.spec(name).params:
            if not p.grid or p.setting is None or p.setting in lead + choice:
                continue
            into = early if p.tune == "early" else late
            if p.setting not in into:
                into.append(p.setting)

    visit(algorithm, [str(value) for setting in choice for value in grid.get(setting, ())])
    order = [*lead, *WEIGHTING_GRID, *choice, *early, *choice, *late, *lead]
    return order + ([PER_CATEGORY] if top.item_weights else [])


def discovery_settings(algorithm: str, config: BatchConfig,
                       grid: dict[str, tuple[Any, ...]]) -> set[str]:
    """The settings tuned on the discovery objective (see the module docstring): empty for
    a model without a parameter naming a discovery part."""
    settings = config.as_dict()
    top = catalog.spec(algorithm)
    choices = catalog.discovery_choices(algorithm)
    if not choices:
        return set()
    out = set(choices) | {p.setting for p in top.params
                          if p.new_items_only and p.setting is not None}
    for setting in choices:
        for value in {*grid.get(setting, ()), settings[setting]}:
            out.update(catalog.settings_of(str(value), settings, tuned=True))
    return out


def applies(stage: str, config: BatchConfig) -> bool:
    """Whether ``stage`` can change anything for ``config``: the weighting always, an
    algorithm setting while the algorithm as configured (its parts included) reads it."""
    if stage in WEIGHTING_GRID:
        return True
    if stage == PER_CATEGORY:
        return catalog.spec(config.algorithm).item_weights
    return stage in catalog.settings_of(config.algorithm, config.as_dict(), tuned=True)


def too_slow(name: str, window_events: int) -> bool:
    """Whether a model ``name`` is made of declares it cannot fit this window in time."""
    for part in catalog.member_names(name):
        limit = catalog.SPECS[part].tuning_max_events if part in catalog.SPECS else None
        if limit is not None and window_events > limit:
            return True
    return False


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

    # The discovery objective's choice (its settings) and its validation metrics on items
    # new to the user; empty for a model without a discovery part.
    discovery: dict[str, Any] = field(default_factory=dict)
    discovery_metrics: dict[str, float] = field(default_factory=dict)
    # The short-history stage: the part chosen ("" for none), the scores on those users,
    # and what was tried (see ``choose_short``); empty when it did not run.
    short: dict[str, Any] = field(default_factory=dict)

    def record(self) -> TuningRecord:
        """What the registry keeps beside the model version (small, JSON-ready): the
        next-basket choice's validation, and the discovery choice with its own."""
        params = dict(self.params)
        weights = params.pop("blend_category_weights", {})
        record: TuningRecord = {
            "params": params, "category_weights": len(weights), "validation": self.metrics,
            "trials": len(self.trials), "seconds": round(self.seconds, 2),
            "complete": self.complete, "sample": self.sample}
        if self.discovery:
            record["discovery"] = {"params": dict(self.discovery),
                                   "validation": dict(self.discovery_metrics)}
        if self.short:
            record["short"] = dict(self.short)
        return record


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
                 per: dict[str, tuple[int, int]], discovery: bool = False,
                 short_items: int | None = None) -> None:
        """``discovery``: score the discovery objective too (a second ranking per fold);
        ``short_items``: score only the validation users with at most that many items."""
        self.splits, self.k, self.share, self.per = splits, k, share, per
        self.discovery, self.short_items = discovery, short_items
        # Per fold, half-life and whether the sessions are made (a model fitting on them).
        self.data: dict[tuple[int, float, bool], core.EvalData] = {}
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
        spec = catalog.spec(config.algorithm)
        if spec.item_weights:
            weights = (category_weights_for(config.blend_weight, self.share, self.per)
                       if per_category else {"*": config.blend_weight})
            config = dataclasses.replace(config, blend_category_weights=weights)
        started = time.perf_counter()
        sums = dict.fromkeys(metrics.METRICS, 0.0)
        counts = dict.fromkeys(metrics.METRICS, 0)
        new_sums = dict.fromkeys(metrics.METRICS, 0.0)
        new_counts = dict.fromkeys(metrics.METRICS, 0)
        users = 0
        ids: list[np.ndarray] = []
        values: list[np.ndarray] = []
        new_values: list[np.ndarray] = []
        cfg = config
        for fold, split in enumerate(self.splits):
            prepared = (fold, config.half_life_days, config.fits_on_sessions())
            data = self.data.get(prepared)
            if data is None:
                data = core.prepare(split, config, self.k)
                self.data[prepared] = data
            cfg = dataclasses.replace(data.config, **{
                f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in ("training_window_days", "num_recommendations")})
            # Parameters declared refit=False do not need a new fit: a model fitted with
            # the same others is given their new values (and its item weights again).
            args = algorithm_params(cfg)
            free = {p.name: args[p.name] for p in spec.params
                    if not p.refit and p.name in args}
            fit_key = (cfg.half_life_days, cfg.algorithm, json.dumps(
                {k: v for k, v in args.items() if k not in free}, sort_keys=True))
            cached = self.models.get(fold)
            if cached is None or cached[0] != fit_key:
                model = fit_algorithm(data.interactions, cfg, data.x)
                self.models[fold] = (fit_key, model)  # one per fold: memory stays flat
            else:
                model = cached[1]
                model.set_params(**free)
                if spec.item_weights:
                    model.set_item_weight(
                        category_weights(data.interactions.item_category, cfg)[0])
            ranker = core.recommender_ranker(model, data.x,
                                             exclude=exclusions(model, data.interactions, cfg))
            result = core.score("trial", ranker, data, self.k, new_items=self.discovery)
            kept = (data.holdout.history_len <= self.short_items if self.short_items is not None
                    else np.ones(data.holdout.users.size, dtype=bool))
            for m in metrics.METRICS:
                for per_user, into, counted in ((result.per_user, sums, counts),
                                                (result.per_user_new, new_sums, new_counts)):
                    v = per_user[m][kept]
                    into[m] += float(np.nansum(v))
                    counted[m] += int(np.count_nonzero(~np.isnan(v)))
            users += int(kept.sum())
            ids.append(np.char.add(f"{fold}\x1f", data.holdout.user_ids[kept].astype(str)))
            values.append(result.per_user["ndcg"][kept])
            new_values.append(result.per_user_new["ndcg"][kept])
        out: dict[str, Any] = {m: sums[m] / max(counts[m], 1) for m in metrics.METRICS}
        out["users"] = float(users)
        if self.discovery:
            out["discovery"] = {m: new_sums[m] / max(new_counts[m], 1)
                                for m in metrics.METRICS}
            out["discovery"]["users"] = float(new_counts["ndcg"])
        out["seconds"] = time.perf_counter() - started
        self.trials.append({"params": _tuned_fields(cfg), "per_category": per_category, **out})
        all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=str)
        order = np.argsort(all_ids, kind="stable")
        all_values = np.concatenate(values) if values else np.zeros(0)
        out["per_user"] = (all_ids[order], all_values[order])
        if self.discovery:
            # Users with no new validation item have no discovery score (NaN): left out.
            new = np.concatenate(new_values)[order] if new_values else np.zeros(0)
            scored = ~np.isnan(new)
            out[NEW_ITEMS] = (all_ids[order][scored], new[scored])
        return out


NEXT_BASKET, NEW_ITEMS = "per_user", "per_user_new"  # the objectives' per-user scores


def gain(candidate: dict[str, Any], best: dict[str, Any],
         objective: str = NEXT_BASKET) -> metrics.Paired:
    """The candidate's paired difference from ``best`` on ``objective``'s validation users."""
    (ids_a, a), (ids_b, b) = candidate[objective], best[objective]
    # Settings may lose users (a short half-life drops old histories): compare on the union
    # of validation users, a user a setting cannot serve scoring 0 for it.
    ids = np.union1d(ids_a, ids_b)
    va, vb = np.zeros(ids.size), np.zeros(ids.size)
    va[np.searchsorted(ids, ids_a)] = np.nan_to_num(a)
    vb[np.searchsorted(ids, ids_b)] = np.nan_to_num(b)
    return metrics.paired(va, vb)


def better(candidate: dict[str, Any], best: dict[str, Any], objective: str = NEXT_BASKET) -> bool:
    """A change is kept only when its paired gain on the validation users is at least one
    standard error: moves inside the noise would tune to the validation users, not the shop.
    ``objective``: ``NEXT_BASKET`` (every validation item) or ``NEW_ITEMS`` (the items new
    to the user, known ones left out of the ranking)."""
    p = gain(candidate, best, objective)
    if p.n < 2 or not p.mean > 0:
        return False
    return p.mean >= (p.high - p.low) / 2 / metrics.Z95


def short_candidates(config: BatchConfig, grid: dict[str, tuple[Any, ...]],
                     window_events: int) -> list[str]:
    """The discovery parts the short stage tries, in order: ``grid["short_discovery"]`` when
    given, else ``SHORT_EXTRA`` then the grid's discovery choices; not the part everyone
    has, nor a model declaring this window too large for it."""
    choices = catalog.discovery_choices(config.algorithm)
    default = [*SHORT_EXTRA, *(v for c in choices for v in grid.get(c, ()))]
    names = [str(v) for v in grid.get("short_discovery", tuple(default))]
    current = {getattr(config, c) for c in choices}
    return [n for n in dict.fromkeys(names) if n not in current and not too_slow(n, window_events)]


def choose_short(folds: list[Split], config: BatchConfig, per_category: bool, k: int,
                 share: float, per: dict[str, tuple[int, int]], names: list[str],
                 deadline: float, clock: Callable[[], float]) -> dict[str, Any]:
    """The short-history stage (see the module docstring) for the chosen ``config``: the
    record of what it chose (``discovery``, "" for none) and why."""
    items = config.short_history_items
    if clock() > deadline:  # the descent used the stage's share too: no route tonight
        return {"discovery": "", "history_items": items, "tried": {}, "complete": False}
    cut = [shorten_histories(fold, SHORT_SHARE, keep=max(items, 1), salt=f"short{i}")[0]
           for i, fold in enumerate(folds)]
    trials = _Trials(cut, k, share, per, discovery=True, short_items=items)
    main_config = dataclasses.replace(config, short_discovery="")
    main = trials.run(main_config, per_category)
    tried: dict[str, float] = {}
    results: dict[str, dict[str, Any]] = {}
    complete = True
    for name in names:
        if clock() > deadline:
            complete = False
            break
        candidate = short_config(dataclasses.replace(main_config, short_discovery=name))
        if candidate is None:  # the part everyone has already
            continue
        results[name] = trials.run(candidate, per_category)
        tried[name] = round(float(results[name]["discovery"]["ndcg"]), 6)
    record: dict[str, Any] = {
        "discovery": "", "history_items": items,
        "users": int(main["discovery"]["users"]),
        "main": round(float(main["discovery"]["ndcg"]), 6), "tried": tried,
        "complete": complete}
    if not tried:
        return record
    best = max(tried, key=lambda n: tried[n])
    new, nxt = gain(results[best], main, NEW_ITEMS), gain(results[best], main, NEXT_BASKET)
    record.update(best=best, gain=[round(float(v), 6) for v in (new.mean, new.low, new.high)],
                  next_basket_gain=[round(float(v), 6) for v in (nxt.mean, nxt.low, nxt.high)])
    # Significant on new items, and next baskets not significantly worse.
    if new.n >= 2 and new.low > 0 and not nxt.high < 0:
        record["discovery"] = best
    return record


def _tuned_fields(config: BatchConfig) -> dict[str, Any]:
    """The algorithm and every setting the tuning may change (for any algorithm)."""
    names = ("algorithm", *WEIGHTING_GRID, *catalog.tuned_settings())
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
    clock: Callable[[], float] = time.perf_counter,
) -> TuningResult:
    """Choose parameters for ``config.algorithm`` on a validation split of ``events``.

    Besides the ``split`` kind, each trial is also scored on a validation split of each kind
    in ``extra_folds`` (default ``EXTRA_FOLDS``: both kinds), carved from the same window, and
    the users of all folds are pooled. The time box is measured on ``clock`` (seconds):
    where it cuts the grid depends on the machine's speed, which is why the train step
    records the choice and reuses it on a re-run."""
    started = clock()
    budget = config.tuning_seconds if budget_seconds is None else budget_seconds
    deadline = started + budget
    # From the declarations now, not at import: an algorithm registered since is tuned too.
    grid = {**WEIGHTING_GRID, **catalog.grids(), **(grid or {})}
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
    discovery = discovery_settings(config.algorithm, config, grid)
    short_names = short_candidates(config, grid, window_events) if discovery else []
    # The short stage comes last: the descent leaves it its share of the box.
    final = deadline
    if short_names:
        deadline = started + budget * (1.0 - SHORT_BUDGET_SHARE)
    trials = _Trials(folds, k, share, per, discovery=bool(discovery))
    best_config, per_category = config, True
    best = trials.run(config)
    choices = {p.setting for p in catalog.spec(config.algorithm).params if p.names_discovery}
    complete = True
    for name in stages(config.algorithm, config, grid):
        if not applies(name, best_config):
            continue
        if name == PER_CATEGORY:  # per-category repeat weights, or one for all
            if clock() > deadline:
                complete = False
                continue
            result = trials.run(best_config, per_category=False)
            if better(result, best):
                best, per_category = result, False
            continue
        for value in grid[name]:
            if clock() > deadline:
                complete = False
                break
            if getattr(best_config, name) == value:
                continue
            if name in choices and too_slow(str(value), window_events):
                continue
            candidate = dataclasses.replace(best_config, **{name: value})
            result = trials.run(candidate, per_category)
            if better(result, best, NEW_ITEMS if name in discovery else NEXT_BASKET):
                best, best_config = result, candidate
    short: dict[str, Any] = {}
    names = short_candidates(best_config, grid, window_events) if discovery else []
    if names:
        short = choose_short(folds, best_config, per_category, k, share, per, names, final,
                             clock)
        complete = complete and short["complete"]
    params = _tuned_fields(best_config)
    params.pop("algorithm")
    if discovery:
        params["short_discovery"] = short.get("discovery", "")
    if catalog.spec(best_config.algorithm).item_weights:
        params["blend_category_weights"] = (
            category_weights_for(best_config.blend_weight, share, per) if per_category
            else {"*": best_config.blend_weight})
    chosen = apply(config, params)
    summary: dict[str, float] = {m: round(float(best[m]), 6) for m in (*metrics.METRICS, "users")}
    summary["repeat_share"] = round(share, 4)
    read = set(catalog.settings_of(best_config.algorithm, best_config.as_dict(), tuned=True))
    chosen_discovery = {name: params[name] for name in sorted(discovery & read) if name in params}
    discovery_summary = ({m: round(float(v), 6) for m, v in best["discovery"].items()}
                         if discovery else {})
    return TuningResult(params, chosen, summary, trials.trials,
                        clock() - started, complete,
                        sample={"window_events": window_events, "events": table.num_rows,
                                "users_share": round(users_share, 4)},
                        discovery=chosen_discovery, discovery_metrics=discovery_summary,
                        short=short)
