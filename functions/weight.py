"""Batch step: weight (recs.batch.steps.weight.weight_step)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.config import BatchConfig
from recs.batch.steps import describe
from recs.batch.steps.weight import weight_step
from recs.contracts.state import BatchState
from recs.stores import wiring

logger = Logger(service="recs")
config = BatchConfig.from_env()
objects = wiring.object_store()


@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    state = weight_step(event, objects, config)
    logger.info("weight done", extra={"state": describe(state)})
    return state
