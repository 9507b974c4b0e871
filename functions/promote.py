"""Batch step: promote (recs.batch.steps.promote.promote_step)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.steps import describe
from recs.batch.steps.promote import promote_step
from recs.contracts.state import BatchState
from recs.stores import wiring

logger = Logger(service="recs")
registry = wiring.model_registry()


@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    state = promote_step(event, registry)
    logger.info("promote done", extra={"state": describe(state)})
    return state
