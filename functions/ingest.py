"""Ingest function: POST /events (behaviour events) and PUT /items (catalog upserts).

The routes, their bodies and answers are declared in ``recs.contracts.routes``; the bodies are
checked here, entry by entry, by ``recs.intake`` so that each rejection names its field.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.api.access import cors_config
from recs.api.errors import json_response, map_errors
from recs.api.routing import Routes
from recs.api.telemetry import ingest_data, publish
from recs.contracts.resources import INGEST, METRICS_NAMESPACE, SERVICE
from recs.intake import catalog
from recs.intake.ingest import ingest, now_ms, parse_body
from recs.intake.validation import echo_id
from recs.stores import wiring

logger = Logger(service="recs")
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
app = map_errors(APIGatewayRestResolver(cors=cors_config()))
routes = Routes(app, INGEST.name)
queue = wiring.event_queue()
dynamodb = wiring.dynamodb_client()
realtime = wiring.realtime_store(dynamodb)
experiments = wiring.experiment_store(dynamodb)
ops = wiring.ops_store(dynamodb)
objects = wiring.object_store()


# Time kept back from the function's timeout: whatever the realtime store does, the answer
# leaves with this much to spare.
ANSWER_MARGIN_S = 1.0


def _body() -> str | bytes | None:
    """The request body; bytes when API Gateway sent it base64-encoded (not UTF-8 text),
    which ``parse_body`` then refuses as not JSON rather than failing to decode it here."""
    body = app.current_event.body
    if body and app.current_event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return body
    return body


def _deadline() -> float | None:
    """When the answer must leave (``time.monotonic()``), from the invocation's time left."""
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - ANSWER_MARGIN_S


@routes.serve("POST /events")
def post_events() -> Response:
    events = parse_body(_body())
    # With the storefront key, only the events of the shopper its token proves (403).
    routes.allow_shoppers(user_id for event in events if isinstance(event, dict)
                          if (user_id := echo_id(event.get("user_id"))) is not None)
    result = ingest(events, queue, realtime, deadline=_deadline(), experiments=experiments,
                    ops=ops)
    logger.info("ingested", extra={"accepted": result.accepted,
                                   "rejected": len(result.rejected)})
    publish(metrics, ingest_data(result.accepted, len(result.rejected), result.duplicates,
                                 result.stored))
    return json_response(_status(result.accepted, len(result.rejected)), result.to_dict())


@routes.serve("PUT /items")
def put_items() -> Response:
    items = parse_body(_body(), key="items", limit=catalog.MAX_ITEMS)
    now = now_ms()
    result = catalog.validate_items(items, now)
    catalog.apply(result.accepted, objects, realtime, now)
    logger.info("catalog updated", extra={"accepted": len(result.accepted),
                                          "rejected": len(result.rejected)})
    return json_response(_status(len(result.accepted), len(result.rejected)), result.to_dict())


def _status(accepted: int, rejected: int) -> int:
    """200 when all were accepted, 207 when some were rejected, 400 when none were."""
    return 200 if not rejected else (207 if accepted else 400)


routes.complete()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
