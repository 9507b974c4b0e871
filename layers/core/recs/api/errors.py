"""The one place where errors become HTTP responses, for every API Gateway handler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from recs.exceptions import (
    ConfigError,
    NotFound,
    ParameterError,
    PayloadTooLarge,
    PromotionRefused,
    RecsError,
    StoreError,
    ValidationError,
)

_STATUS: list[tuple[type[RecsError], int]] = [
    (ValidationError, 400),
    (PayloadTooLarge, 413),
    (NotFound, 404),
    (PromotionRefused, 409),
    (StoreError, 503),
    (ConfigError, 500),
]


def json_response(status: int, body: dict[str, Any],
                  headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body,
                    headers=headers)


def error_response(exc: RecsError) -> Response:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    body: dict[str, Any] = {"message": str(exc)}
    if isinstance(exc, ValidationError):
        body["field"] = exc.field
    if isinstance(exc, ParameterError):
        body["errors"] = [{"field": name, "in": where, "reason": reason}
                          for name, where, reason in exc.problems]
    return json_response(status, body)


def method_not_allowed_or_not_found(path: str, method: str, routes: Sequence[Any]) -> Response:
    """405 with ``Allow`` when the path exists under other methods, 404 otherwise."""
    allowed = sorted({route.method for route in routes if route.rule.match(path)})
    if allowed:
        return json_response(
            405,
            {"message": f"method {method} is not allowed on {path}", "allowed": allowed},
            headers={"Allow": ", ".join(allowed)},
        )
    return json_response(404, {"message": f"no route {method} {path}"})


def map_errors(app: APIGatewayRestResolver) -> APIGatewayRestResolver:
    """Register the one error mapping on a resolver: domain errors (bad parameters too), 404/405."""

    @app.exception_handler(RecsError)
    def domain_error(exc: RecsError) -> Response:
        return error_response(exc)

    @app.not_found
    def not_found(_: Exception) -> Response:
        return method_not_allowed_or_not_found(
            app.current_event.path, app.current_event.http_method,
            app._static_routes + app._dynamic_routes)

    return app
