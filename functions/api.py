"""API function: recommendations, similar items, trending, model status, Swagger UI."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.api.errors import map_errors
from recs.api.params import Param
from recs.api.routing import Routes
from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores import wiring

logger = Logger(service="recs")
app = map_errors(APIGatewayRestResolver())
routes = Routes(app, title="recs: product recommendations", version="0.1.0")
routes.enable_swagger("/swagger")
dynamodb = wiring.dynamodb_client()
service = RecommendationService(wiring.serving_reader(dynamodb),
                                wiring.model_registry(dynamodb), ServingConfig.from_env())

NUM_ITEMS = Param("num_items", int, "How many items to return (1-100)", 10, 1, 100)
USER_ID = Param("user_id", str, "The shopper's id, when they are known", None, 1, 256)
SESSION_ID = Param("session_id", str, "The browsing session's id, for in-session picks",
                   None, 1, 256)
CATEGORY = Param("category", str, "Only items of this category (or its subcategories)",
                 None, 1, 256)


@routes.get("/recommendations", USER_ID, SESSION_ID, CATEGORY, NUM_ITEMS)
def recommendations(user_id: str | None, session_id: str | None, category: str | None,
                    num_items: int) -> dict[str, Any]:
    """Items for a shopper, personalised when we know them, trending otherwise."""
    result = service.for_user(user_id, session_id, num_items, category).to_dict()
    return {"user_id": user_id, "session_id": session_id, **result}


@routes.get("/recommendations/trending", CATEGORY, NUM_ITEMS)
def trending(category: str | None, num_items: int) -> dict[str, Any]:
    """Trending items, in a category (falling back to its parent, then global) or overall."""
    return {"category": category, **service.trending(category, num_items).to_dict()}


@routes.get("/items/<item_id>/similar", NUM_ITEMS.with_default(8))
def similar(item_id: str, num_items: int) -> dict[str, Any]:
    """Customers who liked this item also liked these."""
    return {"item_id": item_id, **service.similar(item_id, num_items).to_dict()}


@routes.get("/models/status")
def model_status() -> dict[str, Any]:
    """The live model version, when it was trained, on how much data, and recent versions."""
    return service.status()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
