"""Batch step: promote (recs.batch.steps.promote.promote_step).

Emits ``ModelPromoted`` (``recs.contracts.resources``): 1 when this run moved the live
pointer to a new version, 0 when it did not (refused, or the version was live already); a
run that failed before promote emits nothing, which the alarm counts as no promotion.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.steps import describe
from recs.batch.steps.promote import promote_step
from recs.contracts import resources
from recs.contracts.state import BatchState
from recs.stores import wiring

logger = Logger(service=resources.SERVICE)
metrics = Metrics(namespace=resources.METRICS_NAMESPACE, service=resources.SERVICE)
registry = wiring.model_registry()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    state = promote_step(event, registry)
    metrics.add_metric(name=resources.MODEL_PROMOTED_METRIC, unit=MetricUnit.Count,
                       value=1 if state.get("changed") else 0)
    logger.info("promote done", extra={"state": describe(state)})
    return state
