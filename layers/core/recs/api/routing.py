"""Routes that declare their parameters: checked per request, and published as OpenAPI.

A route is registered with the parameters it takes (``recs.api.params``); the handler receives
them typed and within bounds, or the caller gets one 400 naming every bad one. The same
declarations build the OpenAPI document behind ``/swagger``, so what is documented is what
is enforced. Swagger UI's page comes from Powertools, imported only when someone opens it.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from recs.api.params import Param, parse

Handler = Callable[..., Any]
_PATH_PARAM = re.compile(r"<(\w+)>")
API_KEY_HEADER = "x-api-key"

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "field": {"type": "string", "description": "The first offending parameter"},
        "errors": {"type": "array", "items": {
            "type": "object",
            "properties": {"field": {"type": "string"}, "in": {"type": "string"},
                           "reason": {"type": "string"}}}},
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # Powertools' syntax: /items/<item_id>/similar
    params: tuple[Param, ...]
    doc: str
    name: str

    @property
    def path(self) -> str:
        """The OpenAPI form of the rule: /items/{item_id}/similar."""
        return _PATH_PARAM.sub(r"{\1}", self.rule)

    def describe(self) -> dict[str, Any]:
        summary, _, details = self.doc.partition("\n")
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": {
                "application/json": {"schema": {"type": "object"}}}},
            "400": {"description": "A parameter is invalid; the body names it", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        }
        described: dict[str, Any] = {"operationId": self.name, "summary": summary.strip(),
                                     "parameters": [param.schema() for param in self.params],
                                     "responses": responses}
        if details.strip():
            described["description"] = inspect.cleandoc(details)
        return described


class Routes:
    """The declared routes of one resolver, and their OpenAPI document."""

    def __init__(self, app: APIGatewayRestResolver, title: str, version: str) -> None:
        self.app = app
        self.title = title
        self.version = version
        self.operations: list[Operation] = []

    def get(self, rule: str, *params: Param) -> Callable[[Handler], Handler]:
        return self.route("GET", rule, *params)

    def post(self, rule: str, *params: Param) -> Callable[[Handler], Handler]:
        return self.route("POST", rule, *params)

    def route(self, method: str, rule: str, *params: Param) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method rule``; it is called with every parameter, typed.

        Path parameters not declared are strings of 1-256 characters."""
        named = {param.name for param in params}
        declared = tuple(params) + tuple(
            Param(name, str, f"The {name.replace('_', ' ')}", minimum=1, maximum=256,
                  location="path")
            for name in _PATH_PARAM.findall(rule) if name not in named)

        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, rule, declared,
                                             inspect.getdoc(handler) or "", handler.__name__))

            def resolve(**path: str) -> Any:
                query = self.app.current_event.query_string_parameters
                return handler(**parse(declared, query, path))

            resolve.__name__ = handler.__name__
            self.app.route(rule, method)(resolve)
            return handler

        return register

    def document(self, base_path: str = "") -> dict[str, Any]:
        """The OpenAPI 3 document of every declared route."""
        paths: dict[str, dict[str, Any]] = {}
        for operation in self.operations:
            paths.setdefault(operation.path, {})[operation.method.lower()] = operation.describe()
        return {
            "openapi": "3.0.3",
            "info": {"title": self.title, "version": self.version},
            "servers": [{"url": base_path or "/"}],
            "paths": paths,
            "components": {
                "schemas": {"Error": _ERROR_SCHEMA},
                "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header",
                                               "name": API_KEY_HEADER}},
            },
            "security": [{"apiKey": []}],
        }

    def enable_swagger(self, rule: str = "/swagger") -> None:
        """GET ``rule``: Swagger UI, or with ``?format=json`` the OpenAPI document itself."""

        @self.app.get(rule)
        def swagger() -> Response:
            event = self.app.current_event
            spec = json.dumps(self.document(_base_path(event)), indent=2)
            if (event.query_string_parameters or {}).get("format") == "json":
                return Response(200, content_types.APPLICATION_JSON, spec)
            return Response(200, "text/html", _swagger_html(spec.replace("</", "<\\/")))


def _base_path(event: Any) -> str:
    """``/prod`` when the caller's URL carries the stage (not under a custom domain)."""
    context = event.request_context
    stage = context.stage
    if stage and stage != "$default" and (context.path or "").startswith(f"/{stage}"):
        return f"/{stage}"
    return ""


def _swagger_html(spec: str) -> str:
    """Powertools' Swagger UI page with its bundled assets (no CDN: works offline too)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = Path(swagger_ui.__file__).parent
    return swagger_ui.generate_swagger_html(
        spec, (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"), "", None)
