"""PNG plots of an evaluation. matplotlib is imported here only, and only when called."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recs.batch.evaluation import core, metrics
from recs_local.evaluation.run import Evaluation


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def metric_per_model(ev: Evaluation, path: Path, metric: str = "ndcg",
                     new: bool = False) -> Path:
    """Bars of ``metric`` per model with 95% CI whiskers."""
    plt = _pyplot()
    names, means, errs = [], [], []
    for r in ev.results:
        v = (r.per_user_new if new else r.per_user)[metric]
        e = metrics.estimate(v[~np.isnan(v)])
        names.append(r.name)
        means.append(e.mean)
        errs.append(0.0 if e.n < 2 else (e.high - e.low) / 2)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    ax.barh(names, means, xerr=errs, color="#4C72B0", ecolor="#333333", capsize=3)
    ax.invert_yaxis()
    label = f"{metric.upper()}@{ev.k}" + (" (items new to the user)" if new else "")
    ax.set_xlabel(label)
    ax.set_title(f"{label}, 95% CI over {ev.data.holdout.users.size} users")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def metric_by_history(ev: Evaluation, path: Path, metric: str = "ndcg") -> Path:
    """``metric`` per model by the user's training history length."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    for r in ev.results:
        rows = core.breakdown(r, ev.data.holdout, metric)
        labels = [label for label, _ in rows]
        ax.plot(labels, [e.mean for _, e in rows], marker="o", label=r.name)
    ax.set_xlabel("distinct items in the user's training history")
    ax.set_ylabel(f"{metric.upper()}@{ev.k}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(ev: Evaluation, out_dir: Path, prefix: str = "") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        metric_per_model(ev, out_dir / f"{prefix}ndcg_per_model.png"),
        metric_per_model(ev, out_dir / f"{prefix}ndcg_new_items_per_model.png", new=True),
        metric_by_history(ev, out_dir / f"{prefix}ndcg_by_history.png"),
    ]
