"""Batch step: weight (recs.batch.steps.weight.weight_step).

Emits ``UnreadableInputs`` (namespace and name in ``recs.contracts.resources``): the number
of event files and catalog lines the run skipped, 0 on a clean run, so the alarm on it has
data every night; when too many were unreadable and the step fails, the count it failed on.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.config import BatchConfig
from recs.batch.steps import describe, skipped_inputs
from recs.batch.steps.weight import weight_step
from recs.contracts import resources
from recs.contracts.state import BatchState
from recs.exceptions import UnreadableInput
from recs.stores import wiring

logger = Logger(service=resources.SERVICE)
metrics = Metrics(namespace=resources.METRICS_NAMESPACE, service=resources.SERVICE)
config = BatchConfig.from_env()
objects = wiring.object_store()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    try:
        state = weight_step(event, objects, config)
    except UnreadableInput as exc:
        metrics.add_metric(name=resources.UNREADABLE_INPUTS_METRIC, unit=MetricUnit.Count,
                           value=exc.skipped)
        logger.error("too much input unreadable", extra={"kind": exc.kind, "error": str(exc)})
        raise
    skipped = skipped_inputs(state)
    metrics.add_metric(name=resources.UNREADABLE_INPUTS_METRIC, unit=MetricUnit.Count,
                       value=skipped)
    if skipped:
        logger.warning("inputs skipped", extra={"skipped": state.get("skipped", {})})
    logger.info("weight done", extra={"state": describe(state)})
    return state
