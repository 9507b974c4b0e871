"""Promotion: all rows counted or no flip; one conditional write; refusals are recorded."""

from __future__ import annotations

import pytest

from recs.batch.steps.promote import promote_step
from recs.exceptions import PromotionRefused
from recs.stores.memory import MemoryModelRegistry
from recs.stores.ports import ModelVersion


def exported(version: str, written: int = 10, expected: int = 10) -> ModelVersion:
    return ModelVersion(version, "exported", "now", counts={
        "interactions": 5, "rows_written": written, "rows_expected": expected})


def test_a_fully_exported_version_goes_live_and_the_old_one_is_archived() -> None:
    registry = MemoryModelRegistry()
    registry.put_version(exported("v1"))
    assert promote_step({"version": "v1"}, registry)["promoted"] is True
    registry.put_version(exported("v2"))
    state = promote_step({"version": "v2"}, registry)
    assert state["previous_version"] == "v1"
    assert registry.live_version() == "v2"
    assert registry.get_version("v1").status == "archived"  # type: ignore[union-attr]


def test_a_version_with_missing_rows_is_rejected_and_live_keeps_serving() -> None:
    registry = MemoryModelRegistry()
    registry.put_version(exported("v1"))
    promote_step({"version": "v1"}, registry)
    registry.put_version(exported("v2", written=7))
    state = promote_step({"version": "v2"}, registry)
    assert state["promoted"] is False and "7 rows of 10" in state["reason"]
    assert registry.live_version() == "v1"
    assert registry.get_version("v2").status == "rejected"  # type: ignore[union-attr]


def test_promoting_the_live_version_again_is_a_no_op() -> None:
    registry = MemoryModelRegistry()
    registry.put_version(exported("v1"))
    promote_step({"version": "v1"}, registry)
    assert promote_step({"version": "v1"}, registry)["promoted"] is True
    assert registry.live_version() == "v1"


def test_the_pointer_flips_only_if_nobody_moved_it_meanwhile() -> None:
    registry = MemoryModelRegistry()
    for version in ("v1", "v2", "v3"):
        registry.put_version(exported(version))
    registry.promote("v1", None, "now")
    registry.promote("v2", "v1", "now")
    with pytest.raises(PromotionRefused):
        registry.promote("v3", "v1", "now")
    assert registry.live_version() == "v2"


def test_an_unknown_version_cannot_be_promoted() -> None:
    with pytest.raises(PromotionRefused):
        promote_step({"version": "nope"}, MemoryModelRegistry())
