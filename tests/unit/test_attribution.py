"""Attribution: events carrying a recommendation id count towards their version and tier."""

from __future__ import annotations

from recs.contracts.ids import Arm, parse_recommendation_id, recommendation_id
from recs_local.attribution import summarise


def test_an_item_id_names_its_response_version_and_tier() -> None:
    rid = recommendation_id("20261121-abc") + ".session"
    response, version, tier, arm = parse_recommendation_id(rid)
    assert len(response) == 16 and version == "20261121-abc" and tier == "session"
    assert arm is None


def test_an_item_id_in_an_experiment_names_its_arm() -> None:
    arm = Arm("20261130T164100-3f9a1c", 1, "u")
    _, version, tier, parsed = parse_recommendation_id(
        recommendation_id("20261121-abc", arm) + ".trending")
    assert (version, tier, parsed) == ("20261121-abc", "trending", arm)


def test_a_garbled_arm_attributes_to_no_experiment() -> None:
    ref = parse_recommendation_id("r1.v1.not~an~arm.session")
    assert ref.arm is None and ref.version == "v1"


def test_ctr_and_conversion_per_version_and_tier() -> None:
    rid = "r1.v1.session"
    events = [
        {"recommendation_id": rid, "item_id": "a", "event_type": "impression"},
        {"recommendation_id": rid, "item_id": "b", "event_type": "impression"},
        {"recommendation_id": rid, "item_id": "a", "event_type": "click"},
        {"recommendation_id": rid, "item_id": "a", "event_type": "click"},  # a double click
        {"recommendation_id": rid, "item_id": "a", "event_type": "purchase"},
        {"recommendation_id": "r2.v1.trending", "item_id": "c", "event_type": "impression"},
        {"recommendation_id": None, "item_id": "d", "event_type": "click"},
    ]
    rows = {r["tier"]: r for r in summarise(events)}
    assert rows["session"] == {"model_version": "v1", "tier": "session", "impressions": 2,
                               "clicks": 1, "purchases": 1, "ctr": 0.5, "conversion": 1.0}
    assert rows["trending"]["ctr"] == 0.0 and rows["trending"]["conversion"] is None
