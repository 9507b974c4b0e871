"""The OpenAPI 3 document of the route table, and the Swagger UI page that shows it.

Built from ``recs.contracts.routes`` as a plain dict, so the document covers every route of
every function (ingest's and admin's too, though only the API function serves it) and costs
the cold start nothing: Powertools' OpenAPI models and pydantic are not involved. Swagger UI's
page comes from Powertools' bundled assets, imported only when someone opens it, and works
offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recs.contracts.routes import (
    API_KEY_HEADER,
    SCHEMAS,
    Access,
    Reply,
    Route,
    Schema,
)

_JSON = "application/json"
_SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    Access.SERVER: [{"apiKey": []}], Access.STOREFRONT: [{"apiKey": []}],
    Access.IAM: [{"sigv4": []}], Access.PUBLIC: []}
_ROUTING_ERRORS = (
    "In the cloud, API Gateway answers a method or path not listed here with 403. The local "
    "server passes them to the functions, which answer 404 for an unknown path and 405 "
    "(with an Allow header) for a listed path under another method."
)

_KEYS = (
    "The server key (the shop's backend) calls every keyed route. The storefront key "
    "(public, in the browser, more throttled) calls only GET /recommendations, "
    "/recommendations/trending, /items/{item_id}/similar and POST /events, and names a "
    "user_id only with that shopper's shopper_token; anything else answers 403 naming the "
    "field (x-api-key or shopper_token)."
)


def document(routes: Sequence[Route], title: str, version: str,
             base_path: str = "") -> dict[str, Any]:
    """The OpenAPI 3.0 document of every documented route in ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.documented:
            paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version, "description": _ROUTING_ERRORS},
        "servers": [{"url": base_path or "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                "NotFound": _response(Reply("No route has this path (local server only)")),
                "MethodNotAllowed": _response(Reply(
                    "The path takes other methods, listed in Allow (local server only)")),
            },
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
                           "description": _KEYS},
                "sigv4": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "An AWS SigV4-signed request (IAM)",
                          "x-amazon-apigateway-authtype": "awsSigv4"},
            },
        },
        "security": _SECURITY[Access.SERVER],
    }


def operation(route: Route) -> dict[str, Any]:
    """One route as an OpenAPI Operation Object."""
    described: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "parameters": [param.schema() for param in route.params],
        "responses": {str(status): _response(reply)
                      for status, reply in sorted(route.responses.items())},
    }
    if route.description:
        described["description"] = route.description
    if route.body:
        described["requestBody"] = {"required": route.body_required, "content": {
            _JSON: {"schema": _ref(route.body)}}}
    if _SECURITY[route.access] != _SECURITY[Access.SERVER]:
        described["security"] = _SECURITY[route.access]
    return described


def _response(reply: Reply) -> dict[str, Any]:
    schemas = [_ref(name) for name in reply.schemas]
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    return {"description": reply.description, "content": {_JSON: {"schema": schema}}}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def swagger_html(spec: str) -> str:
    """Powertools' Swagger UI page with its bundled assets (no CDN: works offline too)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = Path(swagger_ui.__file__).parent
    return swagger_ui.generate_swagger_html(
        spec, (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"), "", None)
