"""Recommendation quality on the shared real datasets: our default and algorithms vs implicit.

    .venv/bin/pip install implicit matplotlib     # benchmark-only dependencies
    .venv/bin/python benchmarks/quality.py [--tune-seconds S] [--only movielens] [--out DIR]

In one run, on Taobao UserBehavior (head) and MovieLens ml-latest-small from
``../shared/datasets`` (skipped, saying why, when absent): our default (the nightly path:
tuning on a validation split carved from the training part, then ``weight_events`` +
``train``), each of our algorithms, implicit's BM25, cosine and ALS (each tuned on the same
validation split, on the same weighted interactions), and the two baselines (global
popularity; the user's own history). Prints a Markdown table per dataset and split, with
training time beside quality, and a paired per-user comparison of the default against the
best competitor; writes it all to ``benchmarks/results/quality.md``.

Short histories: the shared data has almost no test users with at most three events (Taobao's
head file holds about a hundred per user), so the discovery section also scores *simulated*
short histories: a hashed sample of the test users (``--short-share``, a fifth by default, a
few hundred at least where the split has them) whose training events are cut to their last
three right after the split, before anything is tuned or trained
(``recs.batch.evaluation.split.shorten_histories``). Every model, ours and implicit's, tunes
and fits on that same cut data, and every table of a run (next basket included) is on it;
the test events are untouched. The natural "≤3 events" column stays, without those users.
The candidates' validation split, carved from that cut training part, gets its own
simulated short histories the same way, so the routed row (short histories served by the
one of our models best on validation's short users) is chosen on users like them.
"""

from __future__ import annotations

import os

# Threads before numpy/implicit load: implicit uses its own 2 threads; BLAS stays at 1 as
# implicit asks (it warns otherwise), and our blocked products use 2 threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RECS_THREADS", "2")

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.batch.evaluation import core, metrics
from recs.batch.evaluation.split import SHORT_MIN_USERS, shorten_histories, validation
from recs_local.evaluation import cold, discovery, loaders, plots, report, run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("RECS_DATASETS", ROOT.parent / "shared" / "datasets"))
IMPLICIT_THREADS = 2
RUNS = (
    ("online_retail", "uci_online_retail/online_retail.csv.gz", "last-basket"),
    ("online_retail", "uci_online_retail/online_retail.csv.gz", "global-time"),
    ("taobao", "taobao_userbehavior_head/UserBehavior_head.csv", "global-time"),
    ("taobao", "taobao_userbehavior_head/UserBehavior_head.csv", "last-basket"),
    ("movielens", "movielens_ml_latest_small/ratings.csv", "last-basket"),
    ("movielens", "movielens_ml_latest_small/ratings.csv", "global-time"),
)
COMPETITORS = ("implicit bm25", "implicit als", run.HISTORY_NAME)
LIBRARIES = ("implicit bm25", "implicit cosine", "implicit als")
# MovieLens (610 users) is too small to show superiority; the criterion there is
# non-inferiority: the paired 95 % interval of (ours - best library) lies above -MARGIN.
NON_INFERIORITY_MARGIN = 0.005


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
            f"Python {platform.python_version()}, numpy {np.__version__}")


def implicit_candidates() -> list[run.Candidate]:
    """implicit's BM25, cosine and ALS as candidates, each with a small grid."""
    import implicit
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    def ranker(model: Any, x: sp.csr_matrix, filter_liked: bool) -> core.Ranker:
        def rank(users: np.ndarray, k: int, filter_known: bool) -> np.ndarray:
            ids, _ = model.recommend(users, x[users], N=k,
                                     filter_already_liked_items=filter_known or filter_liked)
            return np.asarray(ids, dtype=np.int64)

        return rank

    def knn(cls: Any) -> run.Build:
        def build(params: dict[str, Any], data: core.EvalData) -> tuple[core.Ranker, float]:
            p = dict(params)
            filt = p.pop("filter")
            model = cls(num_threads=IMPLICIT_THREADS, **p)
            started = time.perf_counter()
            model.fit(data.x, show_progress=False)
            return ranker(model, data.x, filt), time.perf_counter() - started

        return build

    def als(params: dict[str, Any], data: core.EvalData) -> tuple[core.Ranker, float]:
        p = dict(params)
        filt, alpha = p.pop("filter"), p.pop("alpha")
        model = AlternatingLeastSquares(num_threads=IMPLICIT_THREADS, random_state=42,
                                        iterations=15, alpha=alpha, **p)
        started = time.perf_counter()
        model.fit(data.x, show_progress=False)
        return ranker(model, data.x, filt), time.perf_counter() - started

    filters = (False, True)
    bm25_grid = [{"K": k, "K1": k1, "B": b, "filter": f}
                 for k in (20, 100) for k1, b in ((1.2, 0.75), (100.0, 0.8)) for f in filters]
    cos_grid = [{"K": k, "filter": f} for k in (20, 100) for f in filters]
    als_grid = [{"factors": n, "regularization": r, "alpha": a, "filter": f}
                for n in (64, 128) for r in (0.01, 0.1) for a in (1.0, 10.0) for f in filters]
    print(f"implicit {implicit.__version__}", file=sys.stderr)
    return [
        run.Candidate("implicit bm25", bm25_grid, knn(BM25Recommender)),
        run.Candidate("implicit cosine", cos_grid, knn(CosineRecommender)),
        run.Candidate("implicit als", als_grid, als),
    ]


def paired_summary(ev: run.Evaluation) -> list[str]:
    """Default vs the best of implicit BM25, implicit ALS and the history baseline."""
    default = ev.results[0]
    out = []
    for new in (False, True):
        pool = [r for r in ev.results if r.name in COMPETITORS]
        best = max(pool, key=lambda r: r.mean("ndcg", new))
        what = "NDCG@20 on items new to the user" if new else "NDCG@20"
        out.append(f"- {what}: best competitor **{best.name}** "
                   f"({best.mean('ndcg', new):.4f}); " + report.paired_line(default, best,
                                                                            new=new))
    return out


def non_inferior(low: float) -> str:
    return "non-inferior" if low > -NON_INFERIORITY_MARGIN else "NOT shown non-inferior"


def session_candidates(config: Any, registry: discovery.SessionRegistry) -> list[run.Candidate]:
    """Session kNN and basket co-occurrence: the models that read sessions, not just users."""
    sknn = [{"neighbours": n, "beta": b} for n in (100, 500) for b in (0.0, 0.5)]
    return [
        discovery.session_candidate("sknn (shoppers)", "sknn", registry, sknn,
                                    fit_on="users", query="history"),
        discovery.session_candidate("sknn (sessions, recent events)", "sknn", registry, sknn,
                                    fit_on="sessions", query="recent"),
        discovery.session_candidate("sknn (sessions, history)", "sknn", registry, sknn,
                                    fit_on="sessions", query="history"),
        discovery.session_candidate(
            "rp3beta (baskets)", "rp3beta", registry,
            [{"neighbours": n, "beta": b} for n in (50, 200) for b in (0.0, 0.25, 0.5)]),
        discovery.session_candidate("cosine (baskets)", "cosine", registry,
                                    [{"neighbours": n} for n in (50, 200)]),
    ]


def evaluate(table: Any, split_kind: str, args: argparse.Namespace,
             extra: list[run.Candidate]) -> tuple[run.Evaluation, list[str]]:
    """The nightly default and every candidate, each tuned on validation for both objectives;
    returns the evaluation (next-basket view) and the discovery section's lines."""
    def say(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr)

    ev = run.evaluate(table, k=args.k, split_kind=split_kind, tune_seconds=args.tune_seconds,
                      include_algorithms=False, log=say, short_share=args.short_share)
    assert ev.tuning is not None
    cfg = ev.tuning.config
    # The candidates' validation gets short histories the way the test did (a hashed sample
    # of its test users, by another draw, cut to their last events), so a model for short
    # histories can be chosen on users like them: in baskets, a user's last few events are
    # mostly one basket, which the validation split would otherwise keep whole for training.
    valid_split, valid_cohort = shorten_histories(validation(ev.split), args.short_share,
                                                   salt="validation")
    if valid_cohort.size:
        say(f"validation: {valid_cohort.size} test users cut to their last "
            f"{discovery.SHORT_EVENTS} events")
    valid = core.prepare(valid_split, cfg, args.k)
    data = core.prepare(ev.split, cfg, args.k)
    sessions = discovery.SessionRegistry()
    sessions.add(valid, discovery.session_data(valid_split.train, valid))
    sessions.add(data, discovery.session_data(ev.split.train, data))
    ours = [c for c in run.algorithm_candidates(cfg) if c.name != run.HISTORY_NAME]
    ours += session_candidates(cfg, sessions)
    tuned: dict[str, discovery.Tuned] = {}
    for cand in [*ours, *extra]:
        t = discovery.tune_both(cand, valid, data, args.k)
        tuned[cand.name] = t
        say(f"{cand.name}: ndcg={t.main.mean('ndcg'):.4f} new={t.discovery.mean('ndcg', True):.4f}"
            f" (valid new {t.valid_discovery:.4f}, {t.discovery.fit_seconds:.2f}s) "
            f"{t.discovery.params}")
        if cand.name != run.POPULARITY_NAME:
            ev.results.append(t.main)
    columns = discovery.cohorts(ev.split.train, ev.data.holdout, ev.short_cohort)
    default = ev.results[0]
    own = [n for n in tuned if n not in LIBRARIES]
    chosen = max(own, key=lambda n: tuned[n].valid_discovery)
    ours_result = tuned[chosen].discovery
    libraries = [tuned[n].discovery for n in LIBRARIES if n in tuned]
    # Short histories routed to the model best on validation's short users among every
    # candidate here (the default list routes them itself, among the product's models: its
    # tuning record's ``short``).
    valid_short = discovery.short_users(valid_split.train, valid.holdout)
    test_short = discovery.short_users(ev.split.train, ev.data.holdout)
    route = discovery.routed(tuned, own, chosen, valid_short, test_short)
    say("short validation users, NDCG on new items: " + ", ".join(
        f"{n} {v:.4f}" for n, v in discovery.short_scores(tuned, list(tuned), valid_short).items()))
    say(f"routed: {route.params} ({int(valid_short.sum())} short validation users, "
        f"{int(test_short.sum())} short test users)")
    rows = [("default list, seen items removed", default, -1.0),
            *[(n, tuned[n].discovery, tuned[n].valid_discovery) for n in tuned],
            (route.name, route, -1.0)]
    simulated = (
        f" Simulated short: {ev.short_cohort.size} test users picked by a hash of their key, "
        f"whose training events were cut to their last {discovery.SHORT_EVENTS} before any "
        "model was tuned or trained (the shared data has almost no natural short histories); "
        "every model saw the same cut data, and every table of this section and the one "
        "above is on it." if ev.short_cohort.size else "")
    lines = [
        f"Discovery (items new to the user; seen items removed from every list; each model "
        f"tuned on validation for this objective). Ours = **{chosen}**, the best of our "
        f"models on validation. ≤{discovery.SHORT_EVENTS} events, natural: test users with at "
        f"most {discovery.SHORT_EVENTS} training events in the data as it is.{simulated} "
        "Users counted in a column are those with a new item in the test. The default list "
        "gives shoppers with at most 3 items in their history the discovery part its nightly "
        "tuning chose for them, if any (`short` in its tuning record). The last row routes "
        f"users with at most {discovery.SHORT_EVENTS} training events to the one of this "
        "table's models of ours best on the validation split's users with that few "
        "(everyone else keeps ours), for comparison. The candidates' validation split has "
        "simulated short histories too, made the same way from its own test users, as the "
        "default's nightly tuning makes its own.",
        "",
        discovery.table(rows, columns, args.k),
        "",
    ]
    if libraries:
        best = max(libraries, key=lambda r: r.mean("ndcg", True))
        lines.append(f"- all users: best library **{best.name}**; "
                     + discovery.paired_text(ours_result, best))
        lines.append("- default list, seen removed: " + discovery.paired_text(default, best))
        lines.append("- " + discovery.paired_text(route, best))
        for label, mask in columns:
            if not mask.any():
                continue
            best_short = discovery.best_on(libraries, mask)
            lines.append(f"- {label}: best library there **{best_short.name}**; "
                         + discovery.paired_text(ours_result, best_short, mask))
            lines.append(f"- {label}: " + discovery.paired_text(route, best_short, mask))
            lines.append(f"- {label}, default list, seen removed: "
                         + discovery.paired_text(default, best_short, mask))
        pop = tuned.get(run.POPULARITY_NAME)
        if pop is not None and chosen != run.POPULARITY_NAME:
            lines.append("- against popularity: " + discovery.paired_text(ours_result,
                                                                          pop.discovery))
        if "movielens" in args.current:
            p = metrics.paired(ours_result.per_user_new["ndcg"], best.per_user_new["ndcg"])
            verdict = non_inferior(p.low)
            lines.append(f"- MovieLens criterion (non-inferiority: lower bound of the paired 95 % "
                         f"interval above -{NON_INFERIORITY_MARGIN}): ours - {best.name} "
                         f"lower bound {p.low:+.4f}: **{verdict}**")
            # The library tuned on its own next-basket objective, as the default is.
            main = tuned[best.name].main
            p = metrics.paired(default.per_user["ndcg"], main.per_user["ndcg"])
            verdict = non_inferior(p.low)
            lines.append(f"- the same for the default list (NDCG@{args.k}, all items): lower "
                         f"bound {p.low:+.4f} against {best.name}: **{verdict}**")
    return ev, lines


def cold_items(ev: run.Evaluation, path: Path, k: int) -> str:
    """Items first sold in the test period, ranked by content similarity (weights chosen on
    the validation split's own new items)."""
    assert ev.tuning is not None
    catalog = loaders.retail_catalog(path)
    valid_split = validation(ev.split)
    valid = core.prepare(valid_split, ev.tuning.config, k)
    label, weights = cold.choose_weights(valid_split, valid, catalog, k)
    result = cold.evaluate(ev.split, ev.data, catalog, k,
                           {f"content ({label}; chosen on validation)": weights})
    return cold.markdown(result, k)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune-seconds", type=float, default=None,
                        help="the default's tuning time box (default: the nightly one, "
                             "RECS_TUNING_SECONDS or 120)")
    parser.add_argument("--only", default="",
                        help="run only the datasets or splits containing this text")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--short-share", type=float, default=0.2,
                        help="share of test users whose training histories are cut to their "
                             "last 3 events (simulated short histories; 0: none)")
    args = parser.parse_args()
    if not DATASETS.is_dir():
        print(f"skipped: no shared datasets at {DATASETS} (set RECS_DATASETS)")
        return 0
    try:
        extra = implicit_candidates()
    except ImportError as exc:
        print(f"skipped: implicit is not installed ({exc}); pip install implicit")
        return 0

    sections = [
        "# Recommendation quality: shared datasets",
        "",
        f"Machine: {machine()}. implicit on {IMPLICIT_THREADS} threads "
        "(OPENBLAS_NUM_THREADS=1), ours with RECS_THREADS=2. Run "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, load average "
        f"{os.getloadavg()[0]:.1f} at the start; the default's tuning time box "
        f"{'the nightly one' if args.tune_seconds is None else f'{args.tune_seconds:g} s'}.",
        "",
        "Every model trains on the same interactions (the nightly `weight_events`: event "
        "weights and time decay from the end of the training data) and is tuned on the same "
        "validation split, carved from the training part only; the test is never seen. "
        "Means ± 95% CI half-width over test users. *New items*: only test items the user had "
        "not interacted with in training count, and each model's list has the user's known "
        "items removed. `train s` is the fit time on the full training part (the default's "
        "is `train()`: fit, user lists with reasons, trending). The default's tuner also "
        "pools a second validation fold of the other split kind (global-time and "
        "last-basket, both carved from the training part). Generated by "
        "`benchmarks/quality.py`.",
        "",
        *([f"Simulated short histories (the shared data has almost no test users with at most "
           f"{discovery.SHORT_EVENTS} events): in every split, a sample of the test users "
           f"picked by a hash of their key ({args.short_share:.0%}, or more up to a third to "
           f"reach {SHORT_MIN_USERS}) has its training events cut to the last "
           f"{discovery.SHORT_EVENTS} (by time) right after the split, before anything is "
           "tuned or trained; their test events are untouched. Every model, ours and "
           "implicit's, sees the same cut data, so every table below (next basket included) "
           "is on it; the discovery tables score that cohort apart.", ""]
          if args.short_share > 0 else []),
    ]
    started = time.perf_counter()
    for name, rel, split_kind in RUNS:
        if args.only not in f"{name} {split_kind}":
            continue
        path = DATASETS / rel
        if not path.is_file():
            msg = f"skipped {name}: {path} is missing"
            print(msg)
            sections += [msg, ""]
            continue
        t0 = time.perf_counter()
        table = loaders.load(path, name)
        args.current = name
        ev, discovery_lines = evaluate(table, split_kind, args, extra)
        title = f"{name} ({rel.split('/')[-1]}), split {split_kind}"
        text = report.markdown(ev, title)
        text += "\n\n" + "\n".join(discovery_lines)
        if name == "online_retail" and split_kind == "global-time":
            text += "\n\n" + cold_items(ev, path, args.k)
        text += "\n\nDefault vs the best of implicit BM25, implicit ALS and the user's history:\n\n"
        text += "\n".join(paired_summary(ev))
        text += f"\n\n_{time.perf_counter() - t0:.0f}s for this dataset and split_\n"
        print(text, flush=True)
        sections += [text, ""]
        plots.write_all(ev, args.out, prefix=f"{name}_{split_kind}_")
    sections.append(f"_Whole run: {time.perf_counter() - started:.0f}s._")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.md").write_text("\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'quality.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
