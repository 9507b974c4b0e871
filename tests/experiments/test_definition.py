"""An experiment declaration is accepted whole or refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from recs.exceptions import ValidationError
from recs.experiments.definition import validate_experiment

NOW = datetime(2026, 11, 30, 16, 41, tzinfo=UTC)


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "blend vs trending",
        "variants": [{"name": "trending", "weight": 1, "control": True},
                     {"name": "blend", "weight": 1, "settings": {"max_per_category": 2}}],
        "minimum_detectable_effect": 0.1,
    }
    body.update(changes)
    return body


def test_a_declaration_takes_the_documented_defaults() -> None:
    experiment = validate_experiment(_body(), NOW)
    assert experiment["id"].startswith("20261130T164100-")
    assert experiment["surface"] == "recommendations"
    assert experiment["unit"] == "user"
    assert experiment["primary_metric"] == "ctr"
    assert experiment["status"] == "running"
    assert experiment["variants"][0] == {"name": "trending", "weight": 1.0, "control": True}
    assert experiment["variants"][1]["settings"] == {"max_per_category": 2}


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": ""}, "name"),
    ({"surface": "emails"}, "surface"),
    ({"unit": "device"}, "unit"),
    ({"primary_metric": "dwell"}, "primary_metric"),
    ({"minimum_detectable_effect": 0}, "minimum_detectable_effect"),
    ({"minimum_detectable_effect": float("nan")}, "minimum_detectable_effect"),
    ({"variants": [{"name": "only"}]}, "variants"),
    ({"variants": [{"name": "a"}, {"name": "a"}]}, "variants"),
    ({"variants": [{"name": "a", "weight": 0}, {"name": "b"}]}, "variants[0].weight"),
    ({"variants": [{"name": "a", "weight": True}, {"name": "b"}]}, "variants[0].weight"),
    ({"variants": [{"name": "a"}, {"name": "b", "colour": "red"}]}, "variants[1].colour"),
    ({"variants": [{"name": "a", "control": True}, {"name": "b", "control": True}]},
     "variants"),
    ({"variants": [{"name": "a", "control": True, "model_version": "v1"}, {"name": "b"}]},
     "variants[0].control"),
    ({"variants": [{"name": "a"}, {"name": "b", "settings": {"blend": 1}}]},
     "variants[1].settings.blend"),
    ({"variants": [{"name": "a"}, {"name": "b", "settings": {"long_tail_share": 2}}]},
     "variants[1].settings.long_tail_share"),
    ({"variants": [{"name": "a"}, {"name": "b", "settings": {"max_per_category": 1.5}}]},
     "variants[1].settings.max_per_category"),
    ({"owner": "me"}, "owner"),
])
def test_a_bad_declaration_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_experiment(_body(**changes), NOW)
    assert caught.value.field == field


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_experiment([1, 2], NOW)
    assert caught.value.field == "body"
