"""Admin function: model promotion, the experiment routes and the operator console's data
(IAM-authorised in API Gateway).

The routes and their access are declared in ``recs.contracts.routes``; what they do is
``recs.batch.rollback``, ``recs.experiments.registry`` and ``recs.api.ops``. Each change is
logged with the caller's IAM identity, so the log says who moved the live model or stopped an
experiment.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.api import ops as console
from recs.api.access import cors_config
from recs.api.errors import map_errors
from recs.api.routing import Routes
from recs.batch.rollback import rollback
from recs.contracts.resources import ADMIN
from recs.exceptions import ValidationError
from recs.experiments import registry as experiments
from recs.stores import wiring

logger = Logger(service="recs")
app = map_errors(APIGatewayRestResolver(cors=cors_config()))
routes = Routes(app, ADMIN.name)
dynamodb = wiring.dynamodb_client()
registry = wiring.model_registry(dynamodb)
recommendations = wiring.recommendation_store(dynamodb)
experiment_store = wiring.experiment_store(dynamodb)
ops = wiring.ops_store(dynamodb)
dead_letters = wiring.dead_letter_queue()


def _caller() -> str:
    return app.current_event.request_context.identity.user_arn or "unknown"


def _body() -> str | None:
    """The request body as text; API Gateway sends a binary one base64-encoded."""
    body = app.current_event.body
    if body and app.current_event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationError("body", "must be JSON text") from exc
    return body


@routes.serve("POST /models/{version}/promote")
def promote(version: str) -> dict[str, Any]:
    """Make a stored model version live (a rollback, or a roll forward)."""
    result = rollback(version, registry, recommendations)
    logger.info("model promoted by hand", extra={**result, "caller": _caller()})
    return result


@routes.serve("POST /experiments")
def create_experiment() -> dict[str, Any]:
    """Start an A/B experiment on a surface."""
    experiment = experiments.create_experiment(experiments.parse_json(_body()),
                                               experiment_store)
    logger.info("experiment created", extra={"experiment": experiment["id"],
                                             "surface": experiment["surface"],
                                             "caller": _caller()})
    return dict(experiment)


@routes.serve("GET /experiments")
def list_experiments() -> dict[str, Any]:
    """Every experiment, running and stopped, newest first."""
    return {"experiments": experiments.list_experiments(experiment_store)}


@routes.serve("GET /experiments/{experiment_id}")
def experiment_report(experiment_id: str) -> dict[str, Any]:
    """An experiment and its results."""
    return experiments.experiment_report(experiment_id, experiment_store)


@routes.serve("POST /experiments/{experiment_id}/stop")
def stop_experiment(experiment_id: str) -> dict[str, Any]:
    """Stop an experiment, naming a winner and, if asked, rolling it out.

    The roll-out comes first: should the winner's version be refused, the experiment keeps
    running and the answer says why, so the operator decides again with nothing half done.
    A retry after a failed stop finds the version live already and changes nothing."""
    winner, roll_out = experiments.parse_stop(_body())
    rolled: dict[str, Any] = {}
    if roll_out and winner is not None:
        plan = experiments.roll_out_of(
            experiments.stoppable(experiment_id, experiment_store, winner), winner)
        promoted = (rollback(plan.model_version, registry, recommendations)
                    if plan.model_version else None)
        rolled = {"rolled_out": promoted, "settings_to_apply": plan.settings,
                  "roll_out": experiments.roll_out_words(plan, promoted)}
    experiment = experiments.stop_experiment(experiment_id, experiment_store, winner)
    logger.info("experiment stopped by hand", extra={
        "experiment": experiment_id, "winner": winner, "roll_out": roll_out,
        "rolled_out": rolled.get("rolled_out"), "caller": _caller()})
    return {**experiment, **rolled}


@routes.serve("GET /ops/health")
def ops_health(days: int) -> dict[str, Any]:
    """Data health per day, and the dead-letter queue's depth."""
    return console.health_report(ops, dead_letters, datetime.now(UTC).date(), days)


@routes.serve("GET /ops/attribution")
def ops_attribution(days: int) -> dict[str, Any]:
    """CTR and conversion by model version and tier, per day."""
    return console.attribution_report(ops, datetime.now(UTC).date(), days)


routes.complete()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
