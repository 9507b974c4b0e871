"""Batch step: export. The Lambda path's whole export (recs.batch.steps.export.export_step),
or, on the Spark path, the phase the event names (recs.batch.steps.export_parts): ``start``
and ``finish`` get ``{"phase", "state"}`` and return the state; ``part`` (a child of the
Distributed Map) gets ``{"phase", "version", "key"}`` and returns the rows it wrote."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.batch.config import BatchConfig
from recs.batch.pipeline import PHASE_FINISH, PHASE_PART, PHASE_START
from recs.batch.steps import describe
from recs.batch.steps.export import export_step
from recs.batch.steps.export_parts import export_finish, export_part, export_start
from recs.exceptions import ValidationError
from recs.stores import wiring

logger = Logger(service="recs")
config = BatchConfig.from_env()
objects = wiring.object_store()
recommendations = wiring.recommendation_store(batch=True)
registry = wiring.model_registry()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    phase = event.get("phase")
    if phase is None:
        # Each process past the first writes through a client of its own.
        state = export_step(event, objects, recommendations, registry, config,  # type: ignore[arg-type]
                            writers=lambda: wiring.recommendation_store(batch=True))
    elif phase == PHASE_START:
        state = export_start(event["state"], objects, recommendations, registry, config)
    elif phase == PHASE_PART:
        part = export_part(str(event["version"]), str(event["key"]), objects, recommendations)
        logger.info("export part done", extra=part)
        return part
    elif phase == PHASE_FINISH:
        state = export_finish(event["state"], recommendations, registry, config)
    else:
        raise ValidationError("phase", f"unknown export phase {phase!r}")
    logger.info("export done", extra={"phase": phase, "state": describe(state)})
    return dict(state)
