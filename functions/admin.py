"""Admin function: POST /models/{version}/promote (IAM-authorised in API Gateway)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs import wiring
from recs.http import map_errors
from recs.rollback import rollback

logger = Logger(service="recs")
app = map_errors(APIGatewayRestResolver(enable_validation=True))
registry = wiring.model_registry()
recommendations = wiring.recommendation_store()


@app.post("/models/<version>/promote")
def promote(version: Annotated[str, Path(min_length=1, max_length=64)]) -> dict[str, Any]:
    """Make a stored model version live (a rollback, or a roll forward)."""
    caller = (app.current_event.request_context.identity.user_arn or "unknown")
    result = rollback(version, registry, recommendations)
    logger.info("model promoted by hand", extra={**result, "caller": caller})
    return result


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
