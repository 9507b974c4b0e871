"""API function: recommendations, similar items, trending, model status, Swagger UI."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs import wiring
from recs.http import map_errors
from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig

logger = Logger(service="recs")
app = map_errors(APIGatewayRestResolver(enable_validation=True))
app.enable_swagger(path="/swagger", title="recs: product recommendations", version="0.1.0")
service = RecommendationService(wiring.serving_reader(), wiring.model_registry(),
                                ServingConfig.from_env())

NumItems = Annotated[int, Query(ge=1, le=100, description="How many items to return (1-100)")]
Id = Annotated[str | None, Query(min_length=1, max_length=256)]


@app.get("/recommendations")
def recommendations(
    user_id: Id = None, session_id: Id = None, category: Id = None, num_items: NumItems = 10
) -> dict[str, Any]:
    """Items for a shopper, personalised when we know them, trending otherwise."""
    result = service.for_user(user_id, session_id, num_items, category).to_dict()
    return {"user_id": user_id, "session_id": session_id, **result}


@app.get("/recommendations/trending")
def trending(category: Id = None, num_items: NumItems = 10) -> dict[str, Any]:
    """Trending items, in a category (falling back to its parent, then global) or overall."""
    return {"category": category, **service.trending(category, num_items).to_dict()}


@app.get("/items/<item_id>/similar")
def similar(
    item_id: Annotated[str, Path(min_length=1, max_length=256)],
    num_items: Annotated[int, Query(ge=1, le=100)] = 8,
) -> dict[str, Any]:
    """Customers who liked this item also liked these."""
    return {"item_id": item_id, **service.similar(item_id, num_items).to_dict()}


@app.get("/models/status")
def model_status() -> dict[str, Any]:
    """The live model version, when it was trained, on how much data, and recent versions."""
    return service.status()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
