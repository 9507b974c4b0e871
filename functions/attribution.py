"""Batch step: attribution (recs.batch.steps.attribution.attribution_step).

Emits ``LiveCtrChange`` (``recs.contracts.metrics``, percent, dimension service only): the
click-through rate of recommended items yesterday against the seven days before it. On a
night with nothing to compare (no impressions in either span) it emits nothing rather than a
made-up 0, and the alarm on it treats missing data as not breaching.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.steps.attribution import attribution_step
from recs.contracts import metrics as names
from recs.contracts import resources
from recs.contracts.state import BatchState
from recs.stores import wiring

logger = Logger(service=resources.SERVICE)
metrics = Metrics(namespace=names.NAMESPACE, service=resources.SERVICE)
objects = wiring.object_store()
experiments = wiring.experiment_store()
ops = wiring.ops_store(experiments.client)


@logger.inject_lambda_context(clear_state=True)
def handler(event: BatchState, context: LambdaContext) -> BatchState:
    state = attribution_step(event, objects, experiments, ops)
    summary = state.get("attribution", {})
    change = summary.get("ctr_change")
    if change is not None:
        # Flushed by hand, not by log_metrics: that would warn every night with no figure.
        metrics.add_metric(name=names.LIVE_CTR_CHANGE, unit=MetricUnit.Percent, value=change)
        metrics.flush_metrics()
    if summary.get("skipped_event_files"):
        logger.warning("event files skipped", extra={"skipped": summary.get("skipped", [])})
    logger.info("attribution done", extra={"attribution": summary})
    return state
