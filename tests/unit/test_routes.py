"""Declared parameters: checked by hand per request, and the same declarations in OpenAPI.

Run on a route table of their own (a "shop"), so they pin the mechanism, not the product's
routes (tests/unit/test_route_table.py holds those).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from hypothesis import given
from hypothesis import strategies as st

from recs.api import openapi
from recs.api.errors import map_errors
from recs.api.params import parse
from recs.api.routing import Routes
from recs.contracts.routes import Access, Param, Reply, Route
from recs.exceptions import ConfigError, ParameterError
from tests.conftest import api_event

COUNT = Param("count", int, "How many", 10, 1, 100)
NAME = Param("name", str, "Who", None, 1, 8)
OK = {200: Reply("OK", ("Error",))}
SHOP = (
    Route("GET", "/greet", "shop", "greet", "Say hello.", "As many times as asked.",
          params=(NAME, COUNT), responses=OK),
    Route("GET", "/items/{item_id}/echo", "shop", "echo", "Echo an item.",
          params=(COUNT.with_default(3),), responses=OK),
    Route("GET", "/swagger", "shop", "swagger", "This document", access=Access.PUBLIC,
          params=(Param("format", str, "json"),), documented=False),
)


def shop() -> tuple[APIGatewayRestResolver, Routes]:
    app = map_errors(APIGatewayRestResolver())
    routes = Routes(app, "shop", SHOP)
    routes.serve_swagger(title="shop", version="1")

    @routes.serve("GET /greet")
    def greet(name: str | None, count: int) -> dict[str, Any]:
        return {"name": name, "count": count}

    @routes.serve("GET /items/{item_id}/echo")
    def echo(item_id: str, count: int) -> dict[str, Any]:
        return {"item_id": item_id, "count": count}

    routes.complete()
    return app, routes


def document(base_path: str = "") -> dict[str, Any]:
    return openapi.document(SHOP, "shop", "1", base_path)


def call(app: APIGatewayRestResolver, path: str,
         query: dict[str, str] | None = None) -> tuple[int, Any]:
    response = app.resolve(api_event("GET", path, query), None)  # type: ignore[arg-type]
    body = response["body"]
    return response["statusCode"], json.loads(body) if body.startswith(("{", "[")) else body


def test_a_handler_gets_its_parameters_typed_with_defaults() -> None:
    app, _ = shop()
    assert call(app, "/greet") == (200, {"name": None, "count": 10})
    assert call(app, "/greet", {"name": "ann", "count": "3"}) == (200, {"name": "ann", "count": 3})
    assert call(app, "/items/rice/echo") == (200, {"item_id": "rice", "count": 3})


def test_every_bad_parameter_is_named_in_one_400() -> None:
    app, _ = shop()
    status, body = call(app, "/greet", {"name": "x" * 9, "count": "many"})
    assert status == 400
    assert body["field"] == "name"
    assert body["errors"] == [
        {"field": "name", "in": "query", "reason": "must be at most 8 characters long"},
        {"field": "count", "in": "query", "reason": "must be an integer, got 'many'"},
    ]
    assert body["message"] == ("name: must be at most 8 characters long; "
                               "count: must be an integer, got 'many'")
    status, body = call(app, "/greet", {"count": "0"})
    assert (status, body["errors"][0]["reason"]) == (400, "must be at least 1")


def test_an_undeclared_path_parameter_is_a_bounded_string() -> None:
    app, _ = shop()
    status, body = call(app, f"/items/{'i' * 257}/echo")
    assert status == 400
    assert body["errors"] == [{"field": "item_id", "in": "path",
                               "reason": "must be at most 256 characters long"}]


def test_the_openapi_document_is_the_declarations() -> None:
    spec = document("/prod")
    assert spec["servers"] == [{"url": "/prod"}]
    assert set(spec["paths"]) == {"/greet", "/items/{item_id}/echo"}
    greet = spec["paths"]["/greet"]["get"]
    assert (greet["summary"], greet["description"]) == ("Say hello.", "As many times as asked.")
    assert greet["parameters"] == [
        {"name": "name", "in": "query", "required": False, "description": "Who",
         "schema": {"type": "string", "minLength": 1, "maxLength": 8}},
        {"name": "count", "in": "query", "required": False, "description": "How many",
         "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
    ]
    echo = spec["paths"]["/items/{item_id}/echo"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in echo] == [
        ("count", "query", False), ("item_id", "path", True)]
    assert spec["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"


def test_swagger_serves_the_page_and_the_document() -> None:
    app, _ = shop()
    status, served = call(app, "/swagger", {"format": "json"})
    assert status == 200 and served == document()
    status, page = call(app, "/swagger")
    assert status == 200 and "SwaggerUIBundle" in page and '"/greet"' in page


@given(st.integers(min_value=-10**6, max_value=10**6))
def test_an_integer_parses_exactly_when_within_its_bounds(value: int) -> None:
    if 1 <= value <= 100:
        assert parse([COUNT], {"count": str(value)}) == {"count": value}
    else:
        with pytest.raises(ParameterError) as raised:
            parse([COUNT], {"count": str(value)})
        assert raised.value.field == "count"


@given(st.text(max_size=12))
def test_a_string_parses_exactly_when_its_length_is_within_bounds(value: str) -> None:
    if 1 <= len(value) <= 8:
        assert parse([NAME], {"name": value}) == {"name": value}
    else:
        with pytest.raises(ParameterError):
            parse([NAME], {"name": value})


@pytest.mark.parametrize("raw", ["", " 5", "1_0", "٣", "5.0", "+-1"])
def test_an_integer_is_plain_ascii_digits(raw: str) -> None:
    with pytest.raises(ParameterError):
        parse([COUNT], {"count": raw})


def test_a_bound_of_one_character_reads_in_the_singular() -> None:
    with pytest.raises(ParameterError, match=r"name: must be at least 1 character long$"):
        parse([NAME], {"name": ""})


def test_a_handler_for_a_route_the_table_lacks_fails_at_import() -> None:
    routes = Routes(map_errors(APIGatewayRestResolver()), "shop", SHOP)
    with pytest.raises(ConfigError, match="GET /nowhere is not a route of the shop function"):
        routes.serve("GET /nowhere")
    with pytest.raises(ConfigError, match=r"\(the shop function serves it\)"):
        Routes(map_errors(APIGatewayRestResolver()), "other", SHOP).serve("GET /greet")


def test_a_table_route_left_unhandled_fails_at_import() -> None:
    routes = Routes(map_errors(APIGatewayRestResolver()), "shop", SHOP)
    routes.serve_swagger()
    routes.serve("GET /greet")(lambda name, count: {})
    with pytest.raises(ConfigError, match=r"no handler for GET /items/\{item_id\}/echo"):
        routes.complete()


def test_a_route_registered_on_the_resolver_behind_the_tables_back_fails_at_import() -> None:
    app, routes = shop()
    app.post("/greet")(lambda: {})
    with pytest.raises(ConfigError, match="registers POST /greet, which the route table lacks"):
        routes.complete()


def test_a_route_serves_once() -> None:
    routes = Routes(map_errors(APIGatewayRestResolver()), "shop", SHOP)
    routes.serve("GET /greet")(lambda name, count: {})
    with pytest.raises(ConfigError, match="two handlers"):
        routes.serve("GET /greet")


def test_a_declared_path_parameter_must_be_in_the_path() -> None:
    with pytest.raises(ValueError, match=r"path parameters \['id'\] are not in the path"):
        Route("GET", "/items", "shop", "items", "Items",
              params=(Param("id", str, "An id", location="path"),))
