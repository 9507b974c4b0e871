"""One evaluation run: split, tune on validation, score every model and baseline on the test.

Each *candidate* is a name, a small grid of parameter sets, and a ``build(params, data)``
that fits on ``data.x`` and returns a ranker. Each candidate's grid is tried on the
validation split (carved out of the training part only) and its best setting by NDCG@K is
refitted on the whole training part and scored on the test. The default is the nightly code
path itself: ``tune`` on the validation split, then ``train`` -> ``Model`` -> its stored lists.

*Simulated short histories* (``short_share``): the shared datasets have almost no test users
with at most a few events (Taobao's head file holds about a hundred per user), so a claim
about short histories cannot be measured on them as they are. ``shorten_histories`` picks a
deterministic sample of the test users (by a hash of their key, not by anything they did)
and cuts each one's *training* events to their last ``SHORT_KEEP`` (by time; an event is a
row of the table, as ``discovery.short_users`` counts them) right after the split, before
anything is tuned or trained, so every model, ours and the libraries', tunes and fits on the
same cut data; their test events stay as they are. The cohort's ids ride on the
``Evaluation`` so reports can score it apart.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from recs.algorithms import catalog
from recs.algorithms.registry import create
from recs.batch.config import BatchConfig
from recs.batch.evaluation import core, tuning
from recs.batch.evaluation.split import (
    SHORT_KEEP,
    Split,
    make,
    shorten_histories,
    validation,
)
from recs.batch.training import algorithm_params, train

Build = Callable[[dict[str, Any], core.EvalData], tuple[core.Ranker, float]]

DEFAULT_NAME = "default (tuned blend)"
HISTORY_NAME = "baseline: user's history"
POPULARITY_NAME = "baseline: popularity"


@dataclass
class Candidate:
    name: str
    grid: Sequence[dict[str, Any]]
    build: Build


@dataclass
class Evaluation:
    split: Split
    data: core.EvalData
    results: list[core.Result]
    tuning: tuning.TuningResult | None = None
    k: int = 20
    notes: list[str] = field(default_factory=list)
    # Test users whose training histories were cut (``shorten_histories``); empty when none.
    short_cohort: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=str))

    def result(self, name: str) -> core.Result:
        return next(r for r in self.results if r.name == name)


def our_candidate(name: str, algorithm: str, config: BatchConfig,
                  extra_grid: Sequence[dict[str, Any]] = ({},)) -> Candidate:
    """One of ``recs.algorithms`` with the config's parameters; the grid adds ``filter``
    (drop the user's known items from the main list or not) and any extra settings."""

    def build(params: dict[str, Any], data: core.EvalData) -> tuple[core.Ranker, float]:
        p = dict(params)
        filter_liked = bool(p.pop("filter", False))
        # One model for everyone: the default's short-history route is the default's own.
        cfg = dataclasses.replace(config, algorithm=algorithm, short_discovery="", **p)
        started = time.perf_counter()
        model = create(algorithm, **algorithm_params(cfg, algorithm))
        model.fit(data.x)
        return (core.recommender_ranker(model, data.x, filter_liked),
                time.perf_counter() - started)

    grid = [{**g, "filter": f} for g in extra_grid for f in (False, True)]
    if catalog.spec(algorithm).repeats == "always":  # its lists are the user's own items
        grid = [{**g, "filter": False} for g in extra_grid]
    return Candidate(name, grid, build)


def evaluate_candidate(cand: Candidate, valid: core.EvalData | None, data: core.EvalData,
                       k: int, deadline: float | None = None) -> core.Result:
    """Pick the candidate's best grid point on ``valid``, refit on ``data``, score the test."""
    best_params = dict(cand.grid[0])
    if valid is not None and len(cand.grid) > 1:
        best = -1.0
        for params in cand.grid:
            if deadline is not None and time.perf_counter() > deadline and best >= 0:
                break
            ranker, _ = cand.build(params, valid)
            ndcg = core.score(cand.name, ranker, valid, k, new_items=False).mean("ndcg")
            if ndcg > best:
                best, best_params = ndcg, dict(params)
    ranker, seconds = cand.build(best_params, data)
    return core.score(cand.name, ranker, data, k, seconds, best_params)


def default_result(split: Split, config: BatchConfig, k: int,
                   tuned: tuning.TuningResult | None) -> tuple[core.Result, core.EvalData]:
    """The nightly path: (tuned) config -> ``weight_events`` -> ``train`` -> served lists."""
    cfg = tuned.config if tuned else config
    data = core.prepare(split, cfg, k)
    started = time.perf_counter()
    model = train(data.interactions, data.config)
    seconds = time.perf_counter() - started
    ranker = core.model_ranker(model, data.interactions.user_ids, data.interactions.item_ids,
                               data.x)
    params = tuning._tuned_fields(data.config)
    return core.score(DEFAULT_NAME, ranker, data, k, seconds, params), data


def algorithm_candidates(config: BatchConfig) -> list[Candidate]:
    """Each algorithm of ``recs.algorithms`` (the item-item models, ALS, the RP3beta + ALS
    ensemble) and both baselines."""
    neighbours = [{"neighbours": n} for n in (50, 200)]
    return [
        our_candidate("cosine", "cosine", config, neighbours),
        our_candidate("bm25", "bm25", config, neighbours),
        our_candidate("tfidf", "tfidf", config, neighbours),
        our_candidate("swing", "swing", config, neighbours),
        our_candidate("rp3beta", "rp3beta", config,
                      [{**n, "rp3_beta": b} for n in neighbours for b in (0.0, 0.25, 0.5)]),
        our_candidate("als", "als", config, [{"als_alpha": a} for a in (1.0, 10.0)]),
        our_candidate("rp3beta+als", "rp3beta+als", config,
                      [{**n, "ensemble_weight": w} for n in neighbours for w in (0.3, 0.5, 0.7)]),
        our_candidate(POPULARITY_NAME, "popularity", config, [{}]),
        our_candidate(HISTORY_NAME, "repurchase", config, [{}]),
    ]


def evaluate(
    table: pa.Table,
    config: BatchConfig | None = None,
    k: int = 20,
    split_kind: str = "global-time",
    tune_seconds: float | None = None,
    extra: Sequence[Candidate] = (),
    include_algorithms: bool = True,
    log: Callable[[str], None] | None = None,
    short_share: float = 0.0,
) -> Evaluation:
    """Split ``table`` (cutting a ``short_share`` sample of test users' training histories to
    their last events, see ``shorten_histories``), tune the default on validation, score
    everything on the test."""
    config = config or BatchConfig()
    say = log or (lambda _msg: None)
    split, cohort = shorten_histories(make(table, split_kind), short_share)
    if cohort.size:
        say(f"simulated short histories: {cohort.size} of {split.test_users.size} test users "
            f"cut to their last {SHORT_KEEP} training events")
    started = time.perf_counter()
    tuned = tuning.tune(split.train, config, k=k, split=split_kind, budget_seconds=tune_seconds)
    say(f"tuned in {time.perf_counter() - started:.1f}s: {tuned.record()['params']}")
    default, data = default_result(split, config, k, tuned)
    say(f"{default.name}: ndcg={default.mean('ndcg'):.4f} ({default.fit_seconds:.2f}s)")
    results = [default]
    valid_split = validation(split)
    valid = core.prepare(valid_split, tuned.config, k)
    data_tuned = core.prepare(split, tuned.config, k)
    candidates = list(algorithm_candidates(tuned.config)) if include_algorithms else []
    if not include_algorithms:
        candidates.append(our_candidate(HISTORY_NAME, "repurchase", tuned.config, [{}]))
        candidates.append(our_candidate(POPULARITY_NAME, "popularity", tuned.config, [{}]))
    for cand in [*candidates, *extra]:
        result = evaluate_candidate(cand, valid, data_tuned, k)
        say(f"{result.name}: ndcg={result.mean('ndcg'):.4f} ({result.fit_seconds:.2f}s) "
            f"{result.params}")
        results.append(result)
    notes = [f"tuning: {tuned.record()}"]
    if cohort.size:
        notes.append(f"simulated short histories: {cohort.size} test users' training events "
                     f"cut to their last {SHORT_KEEP} before tuning")
    return Evaluation(split, data, results, tuned, k, notes, cohort)
