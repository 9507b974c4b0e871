"""The README's first command, tried as a user would: `recs demo --events FILE`, then HTTP."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from recs.contracts.routes import ROUTES
from recs_local.sample_data import write_csv
from tests.conftest import event, rice_milk_lamb
from tests.e2e.conftest import demo_server, request
from tests.openapi_checks import check_body, check_request, operations, problems, resolved

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    csv_path = tmp_path_factory.mktemp("demo") / "events.csv"
    write_csv(rice_milk_lamb(), csv_path)
    with demo_server("--events", str(csv_path)) as url:
        yield url


def test_c_is_recommended_lamb_because_of_rice_or_milk(base_url: str) -> None:
    status, answer = request(f"{base_url}/recommendations?user_id=C&num_items=5")
    assert status == 200
    top = answer["items"][0]
    assert top["item_id"] == "lamb"
    assert top["reason"] in ("Because you bought rice", "Because you bought milk")
    assert isinstance(top["score"], float)


def test_rice_is_similar_to_milk(base_url: str) -> None:
    status, answer = request(f"{base_url}/items/rice/similar")
    assert status == 200 and answer["items"][0]["item_id"] == "milk"


def test_an_unknown_user_gets_trending(base_url: str) -> None:
    status, answer = request(f"{base_url}/recommendations?user_id=new-shopper")
    assert status == 200 and answer["tiers"] == ["trending"]


def test_posting_three_events_with_one_bad(base_url: str) -> None:
    events = [event("D", "rice"), {**event("D", "milk"), "timestamp": "soon"}, event("D", "tea")]
    status, answer = request(f"{base_url}/events", "POST", {"events": events})
    assert status == 207
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["errors"][0]["field"] == "timestamp"


def test_http_errors(base_url: str) -> None:
    assert request(f"{base_url}/recommendations", key=None)[0] == 403
    assert request(f"{base_url}/recommendations", key="wrong")[0] == 403
    assert request(f"{base_url}/nowhere")[0] == 404
    assert request(f"{base_url}/models/status", "DELETE")[0] == 405
    status, answer = request(f"{base_url}/recommendations?num_items=abc")
    assert status == 400 and "num_items" in answer["message"]
    big = {"events": [event("D", "x" * 200)] * 4000}
    assert request(f"{base_url}/events", "POST", big)[0] == 413


def test_model_status_and_swagger(base_url: str) -> None:
    status, answer = request(f"{base_url}/models/status")
    assert status == 200 and answer["live"]["counts"]["interactions"] == 7
    with urllib.request.urlopen(f"{base_url}/swagger?format=json", timeout=10) as response:
        spec = json.loads(response.read())
    assert set(spec["paths"]) == {"/recommendations", "/recommendations/trending",
                                  "/items/{item_id}/similar", "/models/status",
                                  "/events", "/items", "/models/{version}/promote",
                                  "/experiments", "/experiments/{experiment_id}",
                                  "/experiments/{experiment_id}/stop", "/ops/health",
                                  "/ops/attribution"}
    parameters = spec["paths"]["/recommendations"]["get"]["parameters"]
    names = [p["name"] for p in parameters]
    assert names[:4] == ["user_id", "session_id", "category", "num_items"]
    assert names[-1] == "shopper_token"  # a storefront route's, last
    assert parameters[3]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100,
                                       "default": 10}
    with urllib.request.urlopen(f"{base_url}/swagger", timeout=10) as response:
        assert "SwaggerUIBundle" in response.read().decode()



def swagger_json(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/swagger?format=json", timeout=10) as response:
        spec: dict[str, Any] = json.loads(response.read())
    return spec


def test_swagger_lists_every_operation_of_the_route_table(base_url: str) -> None:
    spec = swagger_json(base_url)
    validate(spec)
    assert problems(spec) == []
    documented = {route.key: route for route in ROUTES if route.documented}
    listed = {f"{method} {path}": operation for method, path, operation in operations(spec)}
    assert set(listed) == set(documented)
    for key, route in documented.items():
        operation = listed[key]
        assert ("requestBody" in operation) == (route.body is not None), key
        ok = resolved(spec, operation["responses"]["200"]["content"]["application/json"])
        assert ok["schema"]["properties"], key
        assert set(operation["responses"]) == {str(status) for status in route.responses}, key
    for key in ("POST /events", "PUT /items"):
        body = resolved(spec, listed[key]["requestBody"]["content"]["application/json"])
        assert body["schema"]["properties"], key
    statuses = {status for _, _, operation in operations(spec)
                for status in operation["responses"]}
    statuses |= {"404", "405"} if {"NotFound", "MethodNotAllowed"} <= set(
        spec["components"]["responses"]) else set()
    assert {"400", "403", "404", "405", "413"} <= statuses


def test_every_answer_matches_its_documented_schema(base_url: str) -> None:
    spec = swagger_json(base_url)
    gets = [("/recommendations", "/recommendations?user_id=C&session_id=s-1&num_items=5"),
            ("/recommendations/trending", "/recommendations/trending?category=food"),
            ("/items/{item_id}/similar", "/items/rice/similar"),
            ("/models/status", "/models/status")]
    for path, url in gets:
        status, answer = request(f"{base_url}{url}")
        check_body(spec, "GET", path, status, answer)
    check_body(spec, "GET", "/recommendations",
               *request(f"{base_url}/recommendations?num_items=0"))

    events = {"events": [event("E", "rice"), {**event("E", "milk"), "event_type": "like"}]}
    check_request(spec, "POST", "/events", {"events": events["events"][:1]})
    check_body(spec, "POST", "/events", *request(f"{base_url}/events", "POST", events))
    check_body(spec, "POST", "/events",
               *request(f"{base_url}/events", "POST", {"events": events["events"][1:]}))
    check_body(spec, "POST", "/events", *request(f"{base_url}/events", "POST", {"events": []}))

    items = {"items": [{"item_id": "rice", "title": "Rice", "category": "food/grains"},
                       {"item_id": "tea", "colour": "green"}]}
    check_request(spec, "PUT", "/items", {"items": items["items"][:1]})
    check_body(spec, "PUT", "/items", *request(f"{base_url}/items", "PUT", items))

    live = request(f"{base_url}/models/status")[1]["live_version"]
    for version in (live, "no-such-version"):
        path = f"/models/{version}/promote"
        check_body(spec, "POST", "/models/{version}/promote",
                   *request(f"{base_url}{path}", "POST"))
