"""API function: recommendations, similar items, trending, model status, Swagger UI.

Its routes, their parameters and what they answer are declared in ``recs.contracts.routes``;
each handler here names the entry it serves and gets its parameters typed and checked.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.api.access import cors_config
from recs.api.errors import map_errors
from recs.api.routing import Routes
from recs.api.telemetry import Recorder
from recs.contracts.resources import API, METRICS_NAMESPACE, SERVICE
from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores import wiring

logger = Logger(service="recs")
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
recorder = Recorder()  # the list routes note their answers; the handler publishes them
app = map_errors(APIGatewayRestResolver(cors=cors_config()))
routes = Routes(app, API.name)
routes.serve_swagger("GET /swagger")
config = ServingConfig.from_env()
dynamodb = wiring.dynamodb_client(read_budget_s=config.read_budget_s)
service = RecommendationService(wiring.serving_reader(dynamodb, config.read_budget_s),
                                wiring.model_registry(dynamodb), config,
                                experiments=wiring.experiment_store(dynamodb))


@routes.serve("GET /recommendations")
def recommendations(user_id: str | None, session_id: str | None, category: str | None,
                    num_items: int, exclude: str) -> dict[str, Any]:
    """Items for a shopper, personalised when we know them, trending otherwise."""
    result = service.for_user(user_id, session_id, num_items, category, exclude).to_dict()
    recorder.answer("recommendations", result, shopper=bool(user_id or session_id))
    return {"user_id": user_id, "session_id": session_id, **result}


@routes.serve("GET /recommendations/trending")
def trending(category: str | None, num_items: int, user_id: str | None,
             session_id: str | None) -> dict[str, Any]:
    """Trending items, in a category (falling back to its parent, then global) or overall."""
    result = service.trending(category, num_items, user_id, session_id).to_dict()
    recorder.answer("trending", result, shopper=bool(user_id or session_id))
    return {"category": category, **result}


@routes.serve("GET /items/{item_id}/similar")
def similar(item_id: str, num_items: int, user_id: str | None,
            session_id: str | None) -> dict[str, Any]:
    """Customers who liked this item also liked these."""
    result = service.similar(item_id, num_items, user_id, session_id).to_dict()
    recorder.answer("similar", result, shopper=bool(user_id or session_id))
    return {"item_id": item_id, **result}


@routes.serve("GET /models/status")
def model_status() -> dict[str, Any]:
    """The live model version, when it was trained, on how much data, and recent versions."""
    return service.status()


routes.complete()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        return app.resolve(event, context)
    finally:
        recorder.publish(metrics, (time.perf_counter() - started) * 1000)
