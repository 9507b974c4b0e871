"""The promotion gate: score candidate and live models on the same hold-out, then compare.

``score_model`` scores a trained ``recs.batch.model.Model`` artefact's stored lists (what the
API would serve: the personalised list, else trending) on hold-out events, so the evaluate
step can score the candidate and the live model on exactly the same users and events.
``compare`` is the pure decision.

The hold-out must be events neither model trained on, or the one that saw them wins by
memory: e.g. the last day before ``as_of``, with the candidate scored from a model trained up
to that day (``holdout_split``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recs.batch.config import BatchConfig
from recs.batch.evaluation import core, metrics
from recs.batch.evaluation.split import Split, ts_ms
from recs.batch.model import Model
from recs.batch.weighting import DAY_MS, user_keys
from recs.exceptions import ValidationError

GATE_METRIC = "ndcg"


def compare(
    candidate_metrics: Mapping[str, float],
    live_metrics: Mapping[str, float] | None,
    margin: float,
    metric: str = GATE_METRIC,
) -> tuple[bool, str]:
    """Accept the candidate unless it is worse than live by more than ``margin`` (relative).

    ``margin=0.05`` refuses a candidate whose ``metric`` is below 95% of live's. No live model
    (or live without the metric) accepts; a candidate without a finite metric is refused.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    value = candidate_metrics.get(metric)
    if value is None or not math.isfinite(float(value)):
        return False, f"candidate has no {metric} to compare"
    value = float(value)
    if not live_metrics or live_metrics.get(metric) is None:
        return True, f"no live {metric} to compare with; candidate {metric}={value:.4f}"
    live = float(live_metrics[metric])
    if not math.isfinite(live):
        return True, f"live {metric} is not finite; candidate {metric}={value:.4f}"
    floor = live * (1.0 - margin)
    if value < floor:
        return False, (
            f"candidate {metric}={value:.4f} is worse than live {live:.4f} by more than "
            f"{margin:.0%} (floor {floor:.4f})"
        )
    return True, f"candidate {metric}={value:.4f} vs live {live:.4f} (margin {margin:.0%})"


def holdout_split(events: pa.Table, as_of_ms: int, days: float = 1.0) -> Split:
    """Events before ``as_of - days`` train; the last ``days`` before ``as_of`` are held out.

    The training part is a slice of ``events`` (no copy) when its rows are consecutive, as
    in the window read from its event files (partitions in date order), else a copy; the hold-out
    is always a copy, so the table goes once the training part does: the evaluate step
    never holds a copy of each part beside the table.
    """
    ts = ts_ms(events)
    in_window = ts < as_of_ms
    if int(np.count_nonzero(in_window)) < 2:
        raise ValidationError("events", "need at least two events to split")
    cutoff_ms = int(as_of_ms - days * DAY_MS)
    before = in_window & (ts < cutoff_ms)
    del ts
    held = in_window & ~before
    del in_window
    return Split(_rows(events, before), events.filter(pa.array(held)), cutoff_ms, "global-time")


def _rows(table: pa.Table, mask: np.ndarray) -> pa.Table:
    """``table.filter(mask)``, as a zero-copy slice when the rows are consecutive."""
    count = int(np.count_nonzero(mask))
    if count == 0:
        return table.slice(0, 0)
    first = int(np.argmax(mask))
    if count == mask.size - first - int(np.argmax(mask[::-1])):  # first to last, all kept
        return table.slice(first, count)
    return table.filter(pa.array(mask))


def scored_rows(user_ids: np.ndarray, holdout: pa.Table, config: BatchConfig) -> np.ndarray:
    """The rows of ``user_ids`` that ``score_model`` reads: the users with a positive
    hold-out event, sorted (a model needs lists for these users only)."""
    users = np.asarray(user_keys(holdout).to_pylist(), dtype=str)
    scored = np.unique(users[core.positive_events(holdout, config)])
    rows = core.index_of(np.asarray(user_ids, dtype=str), scored)
    return np.sort(rows[rows >= 0])


def score_model(
    model: Model,
    holdout: pa.Table,
    config: BatchConfig | None = None,
    k: int = 20,
    history: sp.csr_matrix | None = None,
) -> dict[str, float]:
    """Mean metrics of ``model``'s served lists on the hold-out events' users.

    Every user with a positive hold-out event is scored, so two models are compared on the
    same users; users the model does not know get its trending list, as the API serves them.
    ``history`` (the model's users x items of training) adds the new-item NDCG.
    """
    config = config or BatchConfig()
    users = np.asarray(model.user_ids, dtype=str)
    items = np.asarray(model.item_ids, dtype=str)
    h = core.build_holdout(holdout, config, users, items, history, unknown_users=True)
    ranker = core.model_ranker(model, users, items, history)
    data = core.EvalData(interactions=None, x=sp.csr_matrix((users.size, items.size)),  # type: ignore[arg-type]
                         holdout=h, config=config, as_of_ms=0)
    result = core.score("model", ranker, data, k, new_items=history is not None)
    out = {m: result.mean(m) for m in metrics.METRICS}
    if history is not None:
        out["ndcg_new"] = result.mean("ndcg", new=True)
    out["coverage"] = result.coverage
    out["users"] = float(h.users.size)
    return out
