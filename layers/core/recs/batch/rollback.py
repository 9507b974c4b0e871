"""Roll back (or forward): make any earlier version live again, if its rows are still stored.

A version's rows are kept while it is live and for ``model_ttl_days`` after it stopped being
live; then ``recs.batch.retire`` marks it ``expiring``, deletes its rows and marks it
``expired``. Such a version is refused by its status (and promote's own condition refuses it
too, should retire start between this check and the flip). Versions exported before rows
lost their TTL may have expired by DynamoDB's TTL instead, which no status records: a
version whose global trending row is gone is refused rather than promoted into empty lists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recs.contracts.keys import GLOBAL_TRENDING
from recs.exceptions import NotFound, PromotionRefused
from recs.stores.ports import RETIRING, ModelRegistry, RecommendationStore

SERVABLE = ("exported", "archived", "live")


def rollback(version: str, registry: ModelRegistry, recommendations: RecommendationStore,
             ) -> dict[str, Any]:
    record = registry.get_version(version)
    if record is None:
        raise NotFound(f"model version {version} is not in the registry")
    if record.status in RETIRING:
        raise PromotionRefused(
            f"the rows of model version {version} have expired: it had been out of service "
            "for longer than RECS_MODEL_TTL_DAYS, and they are deleted")
    if record.status not in SERVABLE:
        raise PromotionRefused(f"model version {version} is {record.status}: "
                               f"{record.reason or 'it was never fully exported'}")
    live = registry.live_version()
    if live == version:
        return {"live_version": version, "previous_version": live, "changed": False}
    if not recommendations.get_many([GLOBAL_TRENDING], version):
        raise PromotionRefused(f"the rows of model version {version} have expired")
    registry.promote(version, live, datetime.now(UTC).isoformat(timespec="seconds"))
    return {"live_version": version, "previous_version": live, "changed": True}
