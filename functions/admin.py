"""Admin function: POST /models/{version}/promote (IAM-authorised in API Gateway).

The route and its access are declared in ``recs.contracts.routes``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.api.errors import map_errors
from recs.api.routing import Routes
from recs.batch.rollback import rollback
from recs.contracts.resources import ADMIN
from recs.stores import wiring

logger = Logger(service="recs")
app = map_errors(APIGatewayRestResolver())
routes = Routes(app, ADMIN.name)
dynamodb = wiring.dynamodb_client()
registry = wiring.model_registry(dynamodb)
recommendations = wiring.recommendation_store(dynamodb)


@routes.serve("POST /models/{version}/promote")
def promote(version: str) -> dict[str, Any]:
    """Make a stored model version live (a rollback, or a roll forward)."""
    caller = (app.current_event.request_context.identity.user_arn or "unknown")
    result = rollback(version, registry, recommendations)
    logger.info("model promoted by hand", extra={**result, "caller": caller})
    return result


routes.complete()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
