"""Ingest function: POST /events (behaviour events) and PUT /items (catalog upserts)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs import catalog, wiring
from recs.exceptions import RecsError
from recs.http import error_response, json_response, method_not_allowed_or_not_found
from recs.ingest import ingest, now_ms, parse_body

logger = Logger(service="recs")
app = APIGatewayRestResolver()
queue = wiring.event_queue()
realtime = wiring.realtime_store()
objects = wiring.object_store()


@app.post("/events")
def post_events() -> Response:
    events = parse_body(app.current_event.body)
    result = ingest(events, queue, realtime)
    logger.info("ingested", extra={"accepted": result.accepted,
                                   "rejected": len(result.rejected)})
    return json_response(_status(result.accepted, len(result.rejected)), result.to_dict())


@app.put("/items")
def put_items() -> Response:
    items = parse_body(app.current_event.body, key="items", limit=catalog.MAX_ITEMS)
    now = now_ms()
    result = catalog.validate_items(items, now)
    catalog.apply(result.accepted, objects, realtime, now)
    logger.info("catalog updated", extra={"accepted": len(result.accepted),
                                          "rejected": len(result.rejected)})
    return json_response(_status(len(result.accepted), len(result.rejected)), result.to_dict())


def _status(accepted: int, rejected: int) -> int:
    """200 when all were accepted, 207 when some were rejected, 400 when none were."""
    return 200 if not rejected else (207 if accepted else 400)


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
