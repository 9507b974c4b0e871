"""The one place where errors become HTTP responses, for every API Gateway handler.

A body says what went wrong in the product's words. A store's failure carries the SDK's
message (table names, request ids, botocore internals): that goes to the log, and the
client reads only that a store did not answer and the request may be sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from recs.exceptions import (
    ConfigError,
    Conflict,
    Forbidden,
    NotFound,
    ParameterError,
    PayloadTooLarge,
    PromotionRefused,
    RecsError,
    StateLimitExceeded,
    StoreError,
    ValidationError,
)

logger = logging.getLogger(__name__)

STORE_UNAVAILABLE = ("a data store did not answer in time; send the same request again (an "
                     "event or item sent twice is recorded once)")
RETRY_AFTER_S = "1"

_STATUS: list[tuple[type[RecsError], int]] = [
    (ValidationError, 400),
    (Forbidden, 403),
    (PayloadTooLarge, 413),
    (NotFound, 404),
    (PromotionRefused, 409),
    (Conflict, 409),
    (StoreError, 503),
    (ConfigError, 500),
]


def json_response(status: int, body: dict[str, Any],
                  headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body,
                    headers=headers)


def error_response(exc: RecsError) -> Response:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    if isinstance(exc, StoreError):
        logger.warning("store failure answered %d: %s", status, exc)
        return json_response(status, {"message": STORE_UNAVAILABLE},
                             headers={"Retry-After": RETRY_AFTER_S})
    if status == 500:
        logger.error("answered 500: %s", exc)
        return json_response(status, {"message": "the service is misconfigured; its logs "
                                                 "say how"})
    body: dict[str, Any] = {"message": str(exc)}
    if isinstance(exc, ValidationError | StateLimitExceeded | Forbidden):
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
