"""A function's routes, registered from the route table: parameters checked, nothing left out.

A handler names the table entry it serves (``@routes.serve("GET /recommendations")``) and
receives that route's parameters typed and within bounds, or the caller gets one 400 naming
every bad one. Naming a route the table lacks, or one of another function, fails at import;
``complete()`` at the end of the handler module fails at import when a table route of the
function has no handler or the resolver holds a route the table lacks. So a route cannot
reach a handler without reaching API Gateway, the local server and the OpenAPI document.

Each request's caller is checked first (``recs.api.access``): the storefront key is refused
on the routes it may not call, and a ``user_id`` it names must come with that shopper's
token, which is checked here and not passed to the handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from recs.api import openapi
from recs.api.access import SERVER, Caller, Guard
from recs.api.params import parse
from recs.contracts.access import SHOPPER_TOKEN
from recs.contracts.routes import API_TITLE, API_VERSION, ROUTES, Route
from recs.exceptions import ConfigError

Handler = Callable[..., Any]


class Routes:
    """The table's routes of one function, bound to its resolver."""

    def __init__(self, app: APIGatewayRestResolver, function: str,
                 table: Sequence[Route] = ROUTES, guard: Guard | None = None) -> None:
        self.app = app
        self.guard = Guard.from_env() if guard is None else guard
        self.caller: Caller = SERVER  # the current request's
        self.function = function
        self.table = tuple(table)
        self.routes = {route.key: route for route in self.table if route.function == function}
        self.served: set[str] = set()

    def serve(self, key: str) -> Callable[[Handler], Handler]:
        """Register the decorated handler for the table route ``key`` ("GET /path/{name}");
        it is called with every declared parameter, typed."""
        route = self.routes.get(key)
        if route is None:
            owner = next((r.function for r in self.table if r.key == key), None)
            raise ConfigError(f"{key} is not a route of the {self.function} function in the "
                              f"route table" + (f" (the {owner} function serves it)"
                                                if owner else ""))
        if key in self.served:
            raise ConfigError(f"{key} has two handlers")

        def register(handler: Handler) -> Handler:
            def resolve(**path: str) -> Any:
                event = self.app.current_event
                query = event.query_string_parameters
                self.caller = SERVER
                self.caller = self.guard.caller(route, event, (query or {}).get(SHOPPER_TOKEN))
                values = parse(route.params, query, path)
                values.pop(SHOPPER_TOKEN, None)
                if values.get("user_id") is not None:
                    self.allow_shoppers([values["user_id"]])
                return handler(**values)

            resolve.__name__ = handler.__name__
            self.app.route(route.rule, route.method)(resolve)
            self.served.add(key)
            return handler

        return register

    def allow_shoppers(self, user_ids: Iterable[str]) -> None:
        """Refuse the current request (403) unless its caller may act for each shopper: a
        handler whose shoppers are in its body (POST /events) calls this itself."""
        self.guard.allow_shoppers(self.caller, user_ids)

    def serve_swagger(self, key: str = "GET /swagger", title: str = API_TITLE,
                      version: str = API_VERSION) -> None:
        """Serve ``key``: Swagger UI, or with ``?format=json`` the OpenAPI document of the
        whole table."""

        @self.serve(key)
        def swagger(format: str | None = None) -> Response:
            event = self.app.current_event
            spec = json.dumps(openapi.document(self.table, title, version, _base_path(event)),
                              indent=2)
            if format == "json":
                return Response(200, content_types.APPLICATION_JSON, spec)
            return Response(200, "text/html", openapi.swagger_html(spec.replace("</", "<\\/")))

    def complete(self) -> None:
        """Fail unless the resolver serves exactly this function's routes in the table."""
        unserved = sorted(self.routes.keys() - self.served)
        if unserved:
            raise ConfigError(f"the {self.function} function has no handler for "
                              f"{', '.join(unserved)} in the route table")
        registered = {f"{route.method} {route.path}".replace("<", "{").replace(">", "}")
                      for route in self.app._static_routes + self.app._dynamic_routes}
        extra = sorted(registered - self.routes.keys())
        if extra:
            raise ConfigError(f"the {self.function} function registers {', '.join(extra)}, "
                              f"which the route table lacks")


def _base_path(event: Any) -> str:
    """``/prod`` when the caller's URL carries the stage (not under a custom domain)."""
    context = event.request_context
    stage = context.stage
    if stage and stage != "$default" and (context.path or "").startswith(f"/{stage}"):
        return f"/{stage}"
    return ""
