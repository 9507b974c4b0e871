"""Step 5, promote: flip the live pointer to a fully exported version, or refuse it.

Pure Python: the promote function carries no science layer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from recs.contracts import layout
from recs.contracts.state import BatchState, Counts
from recs.exceptions import PromotionRefused
from recs.stores.ports import RETIRING, ModelRegistry, ModelVersion


def promote_step(state: BatchState, registry: ModelRegistry,
                 now: datetime | None = None) -> BatchState:
    """Flip the live pointer to the version, or mark it rejected and say why. ``changed``
    says whether the pointer moved (the ``ModelPromoted`` metric): a re-run of the live
    version's day is promoted, but changes nothing."""
    now = now or datetime.now(UTC)
    version = state["version"]
    verdict = state.get("gate")
    if verdict and verdict.get("ok") is False:
        return _record_refusal(state, registry, f"refused by the gate: {verdict.get('reason')}",
                               now)
    record = registry.get_version(version)
    if record is None:
        raise PromotionRefused(f"model version {version} is not in the registry")
    live = registry.live_version()
    if live == version:
        return {**state, "promoted": True, "changed": False, "live_version": version}
    reason = _refusal(record)
    if reason:
        record.status = "rejected"
        record.reason = reason
        registry.put_version(record)
        return {**state, "promoted": False, "changed": False, "reason": reason,
                "live_version": live}
    registry.promote(version, live, now.isoformat(timespec="seconds"))
    return {**state, "promoted": True, "changed": True, "live_version": version,
            "previous_version": live}


def _refusal(record: ModelVersion) -> str:
    counts = record.counts
    if counts.get("rows_written") != counts.get("rows_expected"):
        return (
            f"export wrote {counts.get('rows_written')} rows of "
            f"{counts.get('rows_expected')} expected"
        )
    if not counts.get("interactions"):
        return "no interactions in the training window"
    return ""


def _record_refusal(state: BatchState, registry: ModelRegistry, reason: str,
                    now: datetime) -> BatchState:
    """A candidate the gate refused: recorded as rejected (not exported this time), live
    untouched. The live version's own record is never turned into a refusal, and the row
    counts of an earlier export of the version are kept, so its rows are still found and
    deleted in time (``recs.batch.retire``)."""
    version = state["version"]
    live = registry.live_version()
    if live == version:
        return {**state, "promoted": True, "changed": False, "live_version": version}
    stored = registry.get_version(version)
    exported: Counts = stored.counts if stored and stored.status not in RETIRING else {}
    registry.put_version(ModelVersion(
        version=version,
        status="rejected",
        created_at=now.isoformat(timespec="seconds"),
        window_start=state.get("window_start", ""),
        window_end=state.get("as_of", ""),
        counts={**exported, **state.get("counts", {})},
        metrics={**state.get("metrics", {}), "tuning": state.get("tuning", {})},
        prefix=layout.model_prefix(version),
        reason=reason,
        promoted_at=stored.promoted_at if stored else "",
        superseded_at=stored.superseded_at if stored else "",
        skipped=state.get("skipped", {}),
    ))
    return {**state, "promoted": False, "changed": False, "reason": reason,
            "live_version": live}
