"""One route table: the handlers, the CDK API, the local server and the OpenAPI document agree.

``recs.contracts.routes.ROUTES`` is the declaration; each test here holds one of the things
built from it to it, so a route added in one place only fails here rather than answering 403
in the cloud. The handlers run in moto (once for the module), the CDK API is synthesised once
for the module on its own (no layers needed), the local server runs on loopback with a
recording stand-in for the functions.
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from jsonschema import ValidationError as SchemaError
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from infra.constructs_api import RecsApi
from recs.contracts import resources
from recs.contracts.events import EVENT_TYPES
from recs.contracts.routes import API_TITLE, ROUTES, SCHEMAS, Access, Route
from recs.exceptions import ValidationError
from recs.intake import catalog, ingest, validation
from recs.serving.service import RecommendationList, RecommendedItem
from recs_local.server import make_server
from tests.conftest import DAY0, api_event, event
from tests.openapi_checks import check_body, operations, problems, resolved

DOCUMENTED = {route.key: route for route in ROUTES if route.documented}
HTTP_FUNCTIONS = sorted({route.function for route in ROUTES})
NOW_MS = int(DAY0.timestamp() * 1000) + 3_600_000  # an hour after the events


def concrete(path: str) -> str:
    """A request path for a route's path: each {parameter} filled in."""
    return "/".join(f"x-{part[1:-1]}" if part.startswith("{") else part
                    for part in path.split("/"))


@pytest.fixture(scope="module")
def cloud() -> Iterator[Any]:
    """The real handlers, imported once in moto (tests/conftest.py's is once per test)."""
    from recs_local.cloud import in_process

    with in_process() as local:
        yield local


@pytest.fixture(scope="module")
def spec(cloud: Any) -> dict[str, Any]:
    """The document the API function serves at GET /swagger?format=json."""
    answer = cloud.invoke("api", api_event("GET", "/swagger", {"format": "json"}))
    assert answer["statusCode"] == 200
    document: dict[str, Any] = json.loads(answer["body"])
    return document


def answer(cloud: Any, function: str, method: str, path: str,
           query: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
    result = cloud.invoke(function, api_event(method, path, query, body))
    return int(result["statusCode"]), json.loads(result["body"])


# --- the table ----------------------------------------------------------------------------

def test_every_route_is_one_method_on_one_path_of_a_known_function() -> None:
    assert len({route.key for route in ROUTES}) == len(ROUTES)
    assert len({route.name for route in ROUTES}) == len(ROUTES)
    functions = {spec.name for spec in resources.FUNCTIONS}
    assert {route.function for route in ROUTES} <= functions
    for route in DOCUMENTED.values():
        assert 200 in route.responses and route.summary, route.key
        assert route.body is None or route.body in SCHEMAS, route.key
        assert all(set(reply.schemas) <= set(SCHEMAS) for reply in route.responses.values())


def test_the_public_route_is_only_the_apis_description() -> None:
    assert [route.key for route in ROUTES if route.access is Access.PUBLIC] == ["GET /swagger"]
    assert [route.key for route in ROUTES if not route.documented] == ["GET /swagger"]


# --- the handlers -------------------------------------------------------------------------

@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_a_functions_resolver_serves_exactly_its_table_routes(cloud: Any, function: str) -> None:
    app = cloud.module(function).app
    registered = {f"{route.method} {route.path}".replace("<", "{").replace(">", "}")
                  for route in app._static_routes + app._dynamic_routes}
    assert registered == {route.key for route in ROUTES if route.function == function}


def test_only_http_functions_have_routes() -> None:
    assert set(HTTP_FUNCTIONS) == {resources.API.name, resources.INGEST.name,
                                   resources.ADMIN.name}


# --- the CDK API --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_template() -> Template:
    """RecsApi alone, in a stack of its own with stand-in functions: synthesised once."""
    stack = Stack(App(), "Routes")
    functions = {
        spec.name: lambda_.Function(stack, spec.name, runtime=lambda_.Runtime.PYTHON_3_12,
                                    handler=f"{spec.module}.handler",
                                    code=lambda_.Code.from_inline("def handler(e, c): pass"))
        for spec in resources.FUNCTIONS if spec.name in HTTP_FUNCTIONS
    }
    RecsApi(stack, "Api", functions=functions, require_api_key=True, rate_limit=10,
            burst_limit=20)
    return Template.from_stack(stack)


def api_methods(template: Template) -> dict[str, dict[str, Any]]:
    """"METHOD /path" -> method properties, paths rebuilt from the resource tree."""
    tree = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if not isinstance(ref, dict) or "Ref" not in ref:
            return ""  # the root resource
        props = tree[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {f"{props['HttpMethod']} {path_of(props['ResourceId'])}": props
            for props in (resource["Properties"] for resource in
                          template.find_resources("AWS::ApiGateway::Method").values())}


@pytest.mark.infra
def test_the_api_gateway_methods_are_the_table(api_template: Template) -> None:
    assert set(api_methods(api_template)) == {route.key for route in ROUTES}


@pytest.mark.infra
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.key)
def test_each_method_has_its_routes_access_function_and_path_parameters(
        api_template: Template, route: Route) -> None:
    method = api_methods(api_template)[route.key]
    assert method["ApiKeyRequired"] is route.access.keyed
    assert method["AuthorizationType"] == ("AWS_IAM" if route.access is Access.IAM else "NONE")
    lambdas = api_template.find_resources("AWS::Lambda::Function")
    function = next(logical_id for logical_id, resource in lambdas.items()
                    if resource["Properties"]["Handler"] == f"{route.function}.handler")
    assert function in json.dumps(method["Integration"]["Uri"])
    path_params = {f"method.request.path.{p.name}" for p in route.params if p.location == "path"}
    assert set(method.get("RequestParameters", {})) == path_params


# --- the local server ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_server() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """The local server with the key "k", in front of a stand-in recording each invocation."""
    calls: list[tuple[str, str, str]] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append((function, event["httpMethod"], event["path"]))
        return {"statusCode": 200, "body": "{}"}

    server = make_server("127.0.0.1", 0, invoke, api_key="k")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


def send(base: str, method: str, path: str, key: str | None = "k") -> int:
    headers = {"x-api-key": key} if key else {}
    request = urllib.request.Request(f"{base}{path}", data=b"{}" if method in ("POST", "PUT")
                                     else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.key)
def test_the_local_server_sends_each_route_to_its_function_behind_its_access(
        local_server: tuple[str, list[tuple[str, str, str]]], route: Route) -> None:
    base, calls = local_server
    path = concrete(route.path)
    calls.clear()
    assert send(base, route.method, path) == 200
    assert calls == [(route.function, route.method, path)]
    calls.clear()
    # IAM routes take the API key locally, as every route but the public one does.
    assert send(base, route.method, path, key=None) == (200 if route.public else 403)
    assert len(calls) == int(route.public)


def test_the_local_server_leaves_unknown_paths_and_methods_to_the_functions(
        local_server: tuple[str, list[tuple[str, str, str]]]) -> None:
    base, calls = local_server
    calls.clear()
    assert send(base, "GET", "/nowhere") == 200  # the stand-in answers; the api function 404s
    assert send(base, "GET", "/events") == 200  # the ingest function answers 405
    assert send(base, "DELETE", "/models/x-version/promote") == 200
    assert send(base, "POST", "/swagger", key=None) == 403  # public is GET /swagger only
    assert [call[0] for call in calls] == ["api", "ingest", "admin"]


# --- the OpenAPI document -----------------------------------------------------------------

def test_the_document_is_valid_openapi_with_every_reference_resolved(
        spec: dict[str, Any]) -> None:
    validate(copy.deepcopy(spec))
    assert problems(spec) == []
    assert spec["info"]["title"] == API_TITLE


def test_the_structural_checks_catch_what_they_look_for(spec: dict[str, Any]) -> None:
    broken = copy.deepcopy(spec)
    similar = broken["paths"]["/items/{item_id}/similar"]["get"]
    similar["parameters"] = [p for p in similar["parameters"] if p["in"] != "path"]
    broken["paths"]["/models/status"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"] = {"$ref": "#/components/schemas/Nothing"}
    assert problems(broken) == [
        "#/components/schemas/Nothing does not resolve",
        "GET /items/{item_id}/similar: path parameter item_id is not declared",
        "GET /models/status: the 200 body has no properties",
    ]


def test_the_document_lists_every_documented_route_of_every_function(
        spec: dict[str, Any]) -> None:
    listed = {f"{method} {path}": operation for method, path, operation in operations(spec)}
    assert set(listed) == set(DOCUMENTED)
    assert {"POST /events", "PUT /items", "POST /models/{version}/promote"} <= set(listed)
    for key, route in DOCUMENTED.items():
        operation = listed[key]
        assert operation["operationId"] == route.name
        assert operation["parameters"] == [param.schema() for param in route.params]
        assert set(operation["responses"]) == {str(status) for status in route.responses}
        assert operation.get("security", spec["security"]) == (
            [{"sigv4": []}] if route.access is Access.IAM else [{"apiKey": []}])
        assert ("requestBody" in operation) == (route.body is not None)


@pytest.mark.parametrize("key", ["POST /events", "PUT /items"])
def test_the_bodies_are_documented(spec: dict[str, Any], key: str) -> None:
    method, path = key.split(" ")
    body = spec["paths"][path][method.lower()]["requestBody"]
    schema = resolved(spec, body["content"]["application/json"]["schema"])
    entries = schema["properties"][path.strip("/")]
    assert body["required"] and entries["maxItems"] == 500
    assert entries["items"]["properties"] and entries["items"]["required"]


# --- the schemas against the code they describe -------------------------------------------

def test_the_body_limits_are_the_validators() -> None:
    assert SCHEMAS["Events"]["properties"]["events"]["maxItems"] == ingest.MAX_EVENTS
    assert SCHEMAS["Items"]["properties"]["items"]["maxItems"] == catalog.MAX_ITEMS
    for name in ("Events", "Items"):
        assert f"{ingest.MAX_BODY_BYTES:,} bytes" in SCHEMAS[name]["description"]
        assert f"At most {SCHEMAS[name]['properties'][name.lower()]['maxItems']} entries" in (
            SCHEMAS[name]["description"])
    assert set(SCHEMAS["Event"]["properties"]) == validation._FIELDS
    assert set(SCHEMAS["Item"]["properties"]) == catalog._FIELDS
    assert SCHEMAS["Event"]["properties"]["event_type"]["enum"] == list(EVENT_TYPES)
    assert f"{validation.MAX_CONTEXT_BYTES} bytes" in (
        SCHEMAS["Event"]["properties"]["context"]["description"])
    for schema, name in (("Event", "context"), ("Item", "attributes")):
        assert f"nested at most {validation.MAX_NESTING} levels" in (
            SCHEMAS[schema]["properties"][name]["description"])
    assert f"{catalog.MAX_ATTRIBUTES_BYTES} bytes" in (
        SCHEMAS["Item"]["properties"]["attributes"]["description"])
    assert SCHEMAS["Event"]["properties"]["event_id"]["oneOf"][0]["maxLength"] == (
        validation.MAX_ID_LENGTH)


def schema_accepts(name: str, instance: Any) -> bool:
    try:
        OAS30Validator(resolved({"components": {"schemas": SCHEMAS}}, SCHEMAS[name])).validate(
            instance)
    except SchemaError:
        return False
    return True


def code_accepts(check: Any, instance: Any) -> bool:
    try:
        check(instance, NOW_MS)
    except ValidationError:
        return False
    return True


BASE_EVENT = event("A", "rice")
EVENTS = {
    "valid": BASE_EVENT,
    "epoch milliseconds": {**BASE_EVENT, "timestamp": NOW_MS - 1000},
    "every field": {**BASE_EVENT, "session_id": "s", "quantity": 2, "price": 1.5,
                    "recommendation_id": "r", "category": "food", "context": {"page": "home"}},
    "numeric ids": {**BASE_EVENT, "event_id": 7, "user_id": 8, "item_id": 9},
    "optional fields null": {**BASE_EVENT, "session_id": None, "quantity": None,
                             "price": None, "category": None, "context": None},
    "id of 256": {**BASE_EVENT, "item_id": "i" * 256},
    "id of 257": {**BASE_EVENT, "item_id": "i" * 257},
    "unknown field": {**BASE_EVENT, "colour": "red"},
    "unknown type": {**BASE_EVENT, "event_type": "like"},
    "no item": {k: v for k, v in BASE_EVENT.items() if k != "item_id"},
    "no timestamp": {k: v for k, v in BASE_EVENT.items() if k != "timestamp"},
    "quantity 0": {**BASE_EVENT, "quantity": 0},
    "quantity 10000": {**BASE_EVENT, "quantity": 10_000},
    "quantity 10001": {**BASE_EVENT, "quantity": 10_001},
    "negative price": {**BASE_EVENT, "price": -1},
    "price as text": {**BASE_EVENT, "price": "1"},
    "context not an object": {**BASE_EVENT, "context": "x"},
    "not an object": ["rice"],
}
ITEMS = {
    "valid": {"item_id": "rice"},
    "every field": {"item_id": "rice", "category": "food/rice", "title": "Rice", "price": 2,
                    "available": False, "created_at": "2026-11-01T00:00:00Z",
                    "attributes": {"brand": "x"}},
    "optional fields null": {"item_id": "rice", "category": None, "created_at": None,
                             "available": None, "attributes": None},
    "title of 512": {"item_id": "rice", "title": "t" * 512},
    "title of 513": {"item_id": "rice", "title": "t" * 513},
    "unknown field": {"item_id": "rice", "colour": "white"},
    "available as text": {"item_id": "rice", "available": "yes"},
    "no id": {"title": "Rice"},
    "attributes not an object": {"item_id": "rice", "attributes": []},
}


@pytest.mark.parametrize("case", EVENTS)
def test_the_event_schema_accepts_what_ingest_accepts(case: str) -> None:
    assert schema_accepts("Event", EVENTS[case]) == code_accepts(validation.validate_event,
                                                                 EVENTS[case])


@pytest.mark.parametrize("case", ITEMS)
def test_the_item_schema_accepts_what_the_catalog_accepts(case: str) -> None:
    assert schema_accepts("Item", ITEMS[case]) == code_accepts(catalog.validate_item,
                                                               ITEMS[case])


def test_every_answer_of_the_functions_matches_its_documented_schema(
        cloud: Any, spec: dict[str, Any]) -> None:
    for path, query in (("/recommendations", {"user_id": "A", "session_id": "s"}),
                        ("/recommendations/trending", {"category": "food"}),
                        ("/items/rice/similar", {}), ("/models/status", {}),
                        ("/recommendations", {"num_items": "0"})):
        documented = "/items/{item_id}/similar" if "similar" in path else path
        check_body(spec, "GET", documented, *answer(cloud, "api", "GET", path, query))
    events = [event("A", "rice"), {**event("A", "milk"), "event_type": "like"}]
    bodies: list[dict[str, Any]] = [{"events": events[:1]}, {"events": events},
                                    {"events": events[1:]}, {"events": []},
                                    {"events": [event("A", "x")] * 501}]
    statuses = []
    for body in bodies:
        status, answered = answer(cloud, "ingest", "POST", "/events", body=body)
        check_body(spec, "POST", "/events", status, answered)
        statuses.append(status)
    assert statuses == [200, 207, 400, 400, 413]
    items = [{"item_id": "rice", "title": "Rice"}, {"item_id": "tea", "colour": "green"}]
    for body in ({"items": items[:1]}, {"items": items}, {"items": items[1:]}):
        check_body(spec, "PUT", "/items", *answer(cloud, "ingest", "PUT", "/items", body=body))
    for path in ("/ops/health", "/ops/attribution"):
        check_body(spec, "GET", path, *answer(cloud, "admin", "GET", path, {"days": "3"}))
    status, refused = answer(cloud, "admin", "POST", "/models/nope/promote")
    assert status == 404
    check_body(spec, "POST", "/models/{version}/promote", status, refused)


def test_a_recommendation_list_with_items_matches_its_schema(spec: dict[str, Any]) -> None:
    items = [RecommendedItem("milk", 0.9, "Because you bought rice", "personalised", "Milk",
                             "dairy"), RecommendedItem("tea", 0.1, "Trending now", "trending")]
    listed = RecommendationList(items, ["personalised", "trending"], "v1").to_dict()
    check_body(spec, "GET", "/recommendations", 200,
               {"user_id": "A", "session_id": None, **listed})
    check_body(spec, "GET", "/items/{item_id}/similar", 200, {"item_id": "rice", **listed})
