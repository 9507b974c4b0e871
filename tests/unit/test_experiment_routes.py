"""The experiment routes through the real admin function on moto: each answer what the OpenAPI
document says, an experiment's life from creation to a rolled-out winner, and the request
schema never stricter than the validator (what it refuses, the function refuses too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from jsonschema import ValidationError as SchemaError
from openapi_schema_validator import OAS30Validator

from recs.contracts import resources
from recs.contracts.experiments import Outcome, VariantCounts
from recs.contracts.keys import GLOBAL_TRENDING
from recs.contracts.routes import SCHEMAS
from recs.exceptions import ValidationError
from recs.experiments.definition import validate_experiment
from recs.experiments.registry import parse_stop
from recs.stores.aws import DynamoModelRegistry, DynamoRecommendationStore
from recs.stores.dynamo_experiments import DynamoExperimentStore
from recs.stores.ports import ExactCounts, ModelVersion, RecRow
from tests.conftest import api_event
from tests.openapi_checks import check_body, check_request, resolved

BLEND = {"name": "blend vs trending", "surface": "recommendations",
         "variants": [{"name": "trending", "control": True},
                      {"name": "blend", "model_version": "v1",
                       "settings": {"new_arrival_share": 0.3}}]}


@pytest.fixture(scope="module")
def cloud() -> Iterator[Any]:
    from recs_local.cloud import in_process

    with in_process() as local:
        yield local


@pytest.fixture(scope="module")
def spec(cloud: Any) -> dict[str, Any]:
    answer = cloud.invoke("api", api_event("GET", "/swagger", {"format": "json"}))
    document: dict[str, Any] = json.loads(answer["body"])
    return document


def admin(cloud: Any, spec: dict[str, Any], method: str, path: str, documented: str,
          body: Any = None) -> tuple[int, Any]:
    """Call the admin function and check the answer against the document (and a body the
    function accepts against the request's schema)."""
    result = cloud.invoke("admin", api_event(method, path, body=body))
    status, answer = int(result["statusCode"]), json.loads(result["body"])
    check_body(spec, method, documented, status, answer)
    if status == 200 and body is not None:
        check_request(spec, method, documented, body)
    return status, answer


def test_an_experiment_from_creation_to_a_rolled_out_winner(cloud: Any,
                                                           spec: dict[str, Any]) -> None:
    client = boto3.client("dynamodb")
    registry = DynamoModelRegistry(resources.REGISTRY.local_name, client)
    rows = DynamoRecommendationStore(resources.RECOMMENDATIONS.local_name, client)
    for version in ("v1", "v2"):
        registry.put_version(ModelVersion(version, "exported", "2026-11-29T03:00:00+00:00"))
        rows.write([RecRow(GLOBAL_TRENDING, version, [["rice", 1.0, None, "trending", None,
                                                       None, None]])])
    registry.promote("v2", None, "2026-11-30T03:00:00+00:00")

    status, created = admin(cloud, spec, "POST", "/experiments", "/experiments", BLEND)
    assert status == 200 and created["status"] == "running", created
    exp_id = created["id"]
    status, refused = admin(cloud, spec, "POST", "/experiments", "/experiments",
                            {**BLEND, "surface": "all"})
    assert status == 409 and exp_id in refused["message"]
    status, refused = admin(cloud, spec, "POST", "/experiments", "/experiments",
                            {**BLEND, "unit": "visitor"})
    assert (status, refused["field"]) == (400, "unit")
    status, refused = admin(cloud, spec, "POST", "/experiments", "/experiments", b"{")
    assert (status, refused["field"]) == (400, "body")
    second = admin(cloud, spec, "POST", "/experiments", "/experiments",
                   {**BLEND, "surface": "similar"})[1]

    status, listed = admin(cloud, spec, "GET", "/experiments", "/experiments")
    assert status == 200
    assert [e["id"] for e in listed["experiments"]] == sorted([exp_id, second["id"]],
                                                              reverse=True)

    # trending: 2 users, 1 clicks; blend: 2 users, both click.
    store = DynamoExperimentStore(resources.EXPERIMENTS.local_name, client)
    for variant, unit, clicked in ((0, "a", True), (0, "b", False), (1, "c", True),
                                   (1, "d", True)):
        store.record(exp_id, variant, unit, Outcome(served=1), 1)
        if clicked:
            store.record(exp_id, variant, unit, Outcome(clicks=1), 2, event_id=f"e-{unit}")
    store.put_exact(exp_id, ExactCounts("2026-12-01T03:10:00+00:00",
                                        {0: VariantCounts(units=3), 1: VariantCounts(units=4)},
                                        {"2026-11-30": {0: VariantCounts(units=3),
                                                        1: VariantCounts(units=4)}}))
    report_path = f"/experiments/{exp_id}"
    status, report = admin(cloud, spec, "GET", report_path, "/experiments/{experiment_id}")
    assert status == 200
    assert {name: (row["units"], row["ctr"]) for name, row in
            report["results"]["variants"].items()} == {"trending": (2, 0.5), "blend": (2, 1.0)}
    assert report["exact"]["days"]["2026-11-30"]["blend"]["units"] == 4

    stop = f"{report_path}/stop"
    documented = "/experiments/{experiment_id}/stop"
    status, refused = admin(cloud, spec, "POST", stop, documented, {"winner": "als"})
    assert (status, refused["field"]) == (400, "winner")
    status, stopped = admin(cloud, spec, "POST", stop, documented,
                            {"winner": "blend", "roll_out": True})
    assert status == 200, stopped
    assert (stopped["status"], stopped["winner"]) == ("stopped", "blend")
    assert stopped["rolled_out"] == {"live_version": "v1", "previous_version": "v2",
                                     "changed": True}
    assert stopped["settings_to_apply"] == {"RECS_NEW_ARRIVAL_SHARE": 0.3}
    assert "take effect on the next deploy" in stopped["roll_out"]
    assert registry.live_version() == "v1"
    status, refused = admin(cloud, spec, "POST", stop, documented)
    assert status == 409 and "was stopped at" in refused["message"]


def test_a_refused_roll_out_leaves_the_experiment_running(cloud: Any,
                                                          spec: dict[str, Any]) -> None:
    body = {**BLEND, "surface": "trending", "variants": [
        {"name": "trending", "control": True}, {"name": "ghost", "model_version": "nope"}]}
    exp_id = admin(cloud, spec, "POST", "/experiments", "/experiments", body)[1]["id"]
    path, documented = f"/experiments/{exp_id}/stop", "/experiments/{experiment_id}/stop"
    status, refused = admin(cloud, spec, "POST", path, documented,
                            {"winner": "ghost", "roll_out": True})
    assert status == 404 and "nope" in refused["message"]
    status, report = admin(cloud, spec, "GET", f"/experiments/{exp_id}",
                           "/experiments/{experiment_id}")
    assert report["status"] == "running" and report["exact"] is None
    status, stopped = admin(cloud, spec, "POST", path, documented,
                            {"winner": "trending", "roll_out": True})
    assert status == 200 and stopped["rolled_out"] is None
    assert stopped["roll_out"].startswith("trending is the control: nothing to roll out")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_experiment_is_404(cloud: Any, spec: dict[str, Any], method: str) -> None:
    path = "/experiments/nope" + ("/stop" if method == "POST" else "")
    documented = "/experiments/{experiment_id}" + ("/stop" if method == "POST" else "")
    assert admin(cloud, spec, method, path, documented)[0] == 404


# --- the request schemas against the code: what a schema refuses, the code refuses --------

def _schema_accepts(name: str, instance: Any) -> bool:
    try:
        OAS30Validator(resolved({"components": {"schemas": SCHEMAS}}, SCHEMAS[name])).validate(
            instance)
    except SchemaError:
        return False
    return True


def _code_accepts(check: Any, instance: Any) -> bool:
    try:
        check(instance)
    except ValidationError:
        return False
    return True


def _variant(**fields: Any) -> dict[str, Any]:
    return {**BLEND, "variants": [{"name": "a", **fields}, {"name": "b"}]}


REQUESTS = {
    "valid": BLEND, "every field": {**BLEND, "unit": "session", "primary_metric": "ctr",
                                    "minimum_detectable_effect": 0.1},
    "no name": {k: v for k, v in BLEND.items() if k != "name"}, "empty name": {**BLEND, "name": ""},
    "unknown field": {**BLEND, "owner": "me"}, "unknown surface": {**BLEND, "surface": "cart"},
    "null unit": {**BLEND, "unit": None}, "effect 0": {**BLEND, "minimum_detectable_effect": 0},
    "effect 11": {**BLEND, "minimum_detectable_effect": 11},
    "effect as text": {**BLEND, "minimum_detectable_effect": "0.1"},
    "one variant": {**BLEND, "variants": BLEND["variants"][:1]},
    "eleven variants": {**BLEND, "variants": [{"name": str(i)} for i in range(11)]},
    "weight 0": _variant(weight=0), "weight true": _variant(weight=True),
    "control as text": _variant(control="yes"), "null version": _variant(model_version=None),
    "unknown setting": _variant(settings={"colour": 1}),
    "share above 1": _variant(settings={"long_tail_share": 1.5}),
    "fractional count": _variant(settings={"max_per_category": 2.5}),
    "count 0": _variant(settings={"max_per_category": 0}),
    "unknown variant field": _variant(colour="red"), "not an object": ["x"],
}
STOPS = {"none": None, "winner": {"winner": "a"}, "null winner": {"winner": None},
         "roll out": {"winner": "a", "roll_out": True}, "winner 3": {"winner": 3},
         "roll_out as text": {"roll_out": "yes"}, "unknown field": {"why": "x"},
         "a list": [1]}


@pytest.mark.parametrize("case", REQUESTS)
def test_what_the_experiment_schema_refuses_the_validator_refuses(case: str) -> None:
    schema, code = (_schema_accepts("ExperimentRequest", REQUESTS[case]),
                    _code_accepts(validate_experiment, REQUESTS[case]))
    assert code <= schema
    assert code == (case in ("valid", "every field"))


@pytest.mark.parametrize("case", STOPS)
def test_what_the_stop_schema_refuses_the_stop_refuses(case: str) -> None:
    body = STOPS[case]
    code = _code_accepts(lambda raw: parse_stop(json.dumps(raw)), body)
    assert code <= (body is None or _schema_accepts("StopExperiment", body))
    assert code == (case in ("none", "winner", "null winner", "roll out"))
