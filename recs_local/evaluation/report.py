"""Markdown tables of an evaluation: metrics with 95% CIs, breakdowns, paired comparisons."""

from __future__ import annotations

import numpy as np

from recs.batch.evaluation import core, metrics
from recs_local.evaluation.run import Evaluation


def _cell(values: np.ndarray) -> str:
    v = values[~np.isnan(values)]
    e = metrics.estimate(v)
    if e.n == 0:
        return "-"
    if e.n == 1:
        return f"{e.mean:.4f}"
    return f"{e.mean:.4f} ± {(e.high - e.low) / 2:.4f}"


def results_table(ev: Evaluation) -> str:
    k = ev.k
    head = (f"| model | NDCG@{k} | Recall@{k} | HitRate@{k} | MAP@{k} | coverage | "
            f"NDCG@{k} new items | Recall@{k} new items | train s |")
    lines = [head, "|" + "---|" * 9]
    for r in ev.results:
        lines.append(
            f"| {r.name} | {_cell(r.per_user['ndcg'])} | {_cell(r.per_user['recall'])} | "
            f"{_cell(r.per_user['hit_rate'])} | {_cell(r.per_user['map'])} | "
            f"{r.coverage:.3f} | {_cell(r.per_user_new['ndcg'])} | "
            f"{_cell(r.per_user_new['recall'])} | {r.fit_seconds:.2f} |"
        )
    return "\n".join(lines)


def breakdown_table(ev: Evaluation, metric: str = "ndcg", new: bool = False) -> str:
    h = ev.data.holdout
    buckets = [label for label, _ in core.breakdown(ev.results[0], h, metric, new)]
    counts = []
    for label, est in core.breakdown(ev.results[0], h, metric, new):
        counts.append(f"{label} ({est.n} users)")
    lines = ["| model | " + " | ".join(counts) + " |", "|" + "---|" * (len(buckets) + 1)]
    for r in ev.results:
        cells = [str(e) if e.n else "-" for _, e in core.breakdown(r, h, metric, new)]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_line(a: core.Result, b: core.Result, metric: str = "ndcg", new: bool = False) -> str:
    va = (a.per_user_new if new else a.per_user)[metric]
    vb = (b.per_user_new if new else b.per_user)[metric]
    p = metrics.paired(va, vb)
    what = f"{metric}{' (new items)' if new else ''}"
    return (f"{a.name} - {b.name}, {what}: {p.mean:+.4f} "
            f"[{p.low:+.4f}, {p.high:+.4f}] over {p.n} users "
            f"(wins {p.wins}, losses {p.losses}): {p.verdict}")


def markdown(ev: Evaluation, title: str = "Evaluation") -> str:
    h = ev.data.holdout
    parts = [
        f"## {title}",
        "",
        f"Split: {ev.split.kind}; {h.users.size} test users; K={ev.k}; "
        f"{ev.data.x.shape[0]} training users x {ev.data.x.shape[1]} items, "
        f"{ev.data.x.nnz} interactions. Means ± 95% CI half-width over users.",
        "",
        results_table(ev),
        "",
        f"NDCG@{ev.k} by the user's training history length (distinct items):",
        "",
        breakdown_table(ev),
        "",
        f"NDCG@{ev.k} on items new to the user, by history length:",
        "",
        breakdown_table(ev, new=True),
        "",
        "Paired comparisons with the default (per-user differences, 95% CI):",
        "",
    ]
    default = ev.results[0]
    for other in ev.results[1:]:
        parts.append(f"- {paired_line(default, other)}")
    parts += ["", *[f"_{n}_" for n in ev.notes]]
    return "\n".join(parts)
