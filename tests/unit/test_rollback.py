"""Rollback: any earlier version whose rows are still stored can go live again."""

from __future__ import annotations

import pytest

from recs.batch.rollback import rollback
from recs.contracts.keys import Entry
from recs.exceptions import NotFound, PromotionRefused
from recs.stores.memory import MemoryModelRegistry, MemoryRecommendationStore
from recs.stores.ports import ModelVersion, RecRow


def two_versions() -> tuple[MemoryModelRegistry, MemoryRecommendationStore]:
    registry, store = MemoryModelRegistry(), MemoryRecommendationStore()
    for version in ("v1", "v2"):
        registry.put_version(ModelVersion(version, "exported", "now"))
        store.write([RecRow("POP#global", version,
                            [Entry("a", 1.0, None, "trending", "food", "A", None)])])
    registry.promote("v1", None, "t1")
    registry.promote("v2", "v1", "t2")
    return registry, store


def test_an_archived_version_goes_live_again() -> None:
    registry, store = two_versions()
    assert rollback("v1", registry, store) == {"live_version": "v1", "previous_version": "v2",
                                               "changed": True}
    assert registry.live_version() == "v1"
    assert registry.get_version("v2").status == "archived"  # type: ignore[union-attr]


def test_a_version_whose_rows_expired_is_refused() -> None:
    registry, store = two_versions()
    registry.put_version(ModelVersion("v0", "archived", "long ago"))
    with pytest.raises(PromotionRefused, match="expired"):
        rollback("v0", registry, store)


def test_rejected_and_unknown_versions_are_refused() -> None:
    registry, store = two_versions()
    registry.put_version(ModelVersion("bad", "rejected", "now", reason="worse than live"))
    with pytest.raises(PromotionRefused, match="worse than live"):
        rollback("bad", registry, store)
    with pytest.raises(NotFound):
        rollback("nope", registry, store)
