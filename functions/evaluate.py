"""Batch step: evaluate (recs.batch.steps.evaluate.evaluate_step)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.config import BatchConfig
from recs.batch.steps import describe
from recs.batch.steps.evaluate import evaluate_step
from recs.contracts.state import BatchState
from recs.stores import wiring

logger = Logger(service="recs")
config = BatchConfig.from_env()
objects = wiring.object_store()
registry = wiring.model_registry()


@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    state = evaluate_step(event, objects, registry, config)
    logger.info("evaluate done", extra={"state": describe(state), "gate": state.get("gate")})
    return state
