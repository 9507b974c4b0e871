"""Ingest function: POST /events validates a batch and enqueues the accepted events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs import wiring
from recs.exceptions import RecsError
from recs.http import error_response, json_response, method_not_allowed_or_not_found
from recs.ingest import ingest, parse_body

logger = Logger(service="recs")
app = APIGatewayRestResolver()
queue = wiring.event_queue()


@app.post("/events")
def post_events() -> Response:
    events = parse_body(app.current_event.body)
    result = ingest(events, queue)
    logger.info("ingested", extra={"accepted": result.accepted,
                                   "rejected": len(result.rejected)})
    # 200 when all were accepted, 207 when some were rejected, 400 when none were.
    status = 200 if not result.rejected else (207 if result.accepted else 400)
    return json_response(status, result.to_dict())


@app.exception_handler(RecsError)
def domain_error(exc: RecsError) -> Response:
    return error_response(exc)


@app.not_found
def not_found(_: Exception) -> Response:
    return method_not_allowed_or_not_found(app.current_event.path, app.current_event.http_method,
                                           app._static_routes + app._dynamic_routes)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
