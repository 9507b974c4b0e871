"""Step 5, promote: flip the live pointer to a fully exported version, or refuse it.

Pure Python: the promote function carries no science layer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from recs.contracts import layout
from recs.contracts.state import BatchState
from recs.exceptions import PromotionRefused
from recs.stores.ports import ModelRegistry, ModelVersion


def promote_step(state: BatchState, registry: ModelRegistry) -> BatchState:
    """Flip the live pointer to the version, or mark it rejected and say why."""
    version = state["version"]
    verdict = state.get("gate")
    if verdict and verdict.get("ok") is False:
        return _record_refusal(state, registry, f"refused by the gate: {verdict.get('reason')}")
    record = registry.get_version(version)
    if record is None:
        raise PromotionRefused(f"model version {version} is not in the registry")
    live = registry.live_version()
    if live == version:
        return {**state, "promoted": True, "live_version": version}
    reason = _refusal(record)
    if reason:
        record.status = "rejected"
        record.reason = reason
        registry.put_version(record)
        return {**state, "promoted": False, "reason": reason, "live_version": live}
    registry.promote(version, live, datetime.now(UTC).isoformat(timespec="seconds"))
    return {**state, "promoted": True, "live_version": version, "previous_version": live}


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


def _record_refusal(state: BatchState, registry: ModelRegistry, reason: str) -> BatchState:
    """A candidate the gate refused: recorded as rejected (never exported), live untouched."""
    registry.put_version(ModelVersion(
        version=state["version"],
        status="rejected",
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        window_start=state.get("window_start", ""),
        window_end=state.get("as_of", ""),
        counts=state.get("counts", {}),
        metrics={**state.get("metrics", {}), "tuning": state.get("tuning", {})},
        prefix=layout.model_prefix(state["version"]),
        reason=reason,
    ))
    return {**state, "promoted": False, "reason": reason,
            "live_version": registry.live_version()}
