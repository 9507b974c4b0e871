"""Batch step: export (recs.batch.steps.export.export_step)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.config import BatchConfig
from recs.batch.steps import describe
from recs.batch.steps.export import export_step
from recs.contracts.state import BatchState
from recs.stores import wiring

logger = Logger(service="recs")
config = BatchConfig.from_env()
objects = wiring.object_store()
recommendations = wiring.recommendation_store(batch=True)
registry = wiring.model_registry()


@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    state = export_step(event, objects, recommendations, registry, config)
    logger.info("export done", extra={"state": describe(state)})
    return state
