"""The nightly batch as an Amazon States Language definition, built in one place.

The CDK app passes the deployed functions' ARNs (CDK tokens) and the local runner passes
moto's, so the state machine that runs on a laptop is the one that is deployed. Steps hand
each other S3 keys and counts, never data: each step returns the whole state with its own
keys added, which keeps every step re-runnable from the state it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recs.contracts.resources import ATTRIBUTION, BATCH_STEPS

STEP_ORDER = tuple(spec.name for spec in BATCH_STEPS)
# Steps after promote whose failure ends the run in a Succeed state of its own, not Failed:
# the model's side of the night is done by then, and a failed execution would set off the
# alarms that watch the batch for the model's sake (a failed run; no successful run in 36
# hours) while the right model is serving. Their own errors still show: the function's
# Errors metric, the execution's history, and the state's ``<step>_error``.
ADVISORY = (ATTRIBUTION.name,)

_RETRY_TRANSIENT = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }
]


def _state_name(step: str) -> str:
    return step.capitalize()


def _skipped_name(step: str) -> str:
    return f"{_state_name(step)}Skipped"


def build_definition(function_arns: Mapping[str, str]) -> dict[str, Any]:
    """weight -> train -> evaluate -> gate -> export -> promote -> attribution; a failure
    before attribution -> Failed, of attribution -> AttributionSkipped (Succeed).

    The gate sends a refused candidate straight to ``promote``, which records it as rejected
    with the reason (nothing is exported). A failure stops the run before ``promote`` flips
    the live pointer, so the live model is untouched; the execution's FAILED status is what
    the CloudWatch alarm watches. ``attribution`` (the experiments' nightly recount and the
    live CTR's change) runs after promote, so it can never keep a model from being promoted,
    and it is ``ADVISORY``: its failure is caught into ``$.attribution_error`` and the run
    succeeds, because the run's status speaks for the model (the failed-run and no-success
    alarms), and the recount of every experiment starts over from its creation the next
    night, so a failed night only leaves the previous recount standing a day longer.
    """
    missing = [s for s in STEP_ORDER if s not in function_arns]
    if missing:
        raise ValueError(f"no function ARN for steps {missing}")
    states: dict[str, Any] = {}
    for index, step in enumerate(STEP_ORDER):
        state: dict[str, Any] = {
            "Type": "Task",
            "Comment": f"recs batch step: {step}",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arns[step], "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Retry": _RETRY_TRANSIENT,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
        }
        if step in ADVISORY:
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.{step}_error",
                               "Next": _skipped_name(step)}]
            states[_skipped_name(step)] = {
                "Type": "Succeed",
                "Comment": f"{step} failed after the model's side of the run was done: the "
                           f"run stands, the error is in $.{step}_error",
            }
        if index + 1 < len(STEP_ORDER):
            following = STEP_ORDER[index + 1]
            state["Next"] = "Gate" if following == "export" else _state_name(following)
        else:
            state["End"] = True
        states[_state_name(step)] = state
    states["Gate"] = {
        "Type": "Choice",
        "Comment": "A candidate worse than live by more than the margin is not exported.",
        "Choices": [{"Variable": "$.gate.ok", "BooleanEquals": False,
                     "Next": _state_name("promote")}],
        "Default": _state_name("export"),
    }
    states["Failed"] = {
        "Type": "Fail",
        "Comment": "A batch step failed; the live model was left as it was.",
        "Error": "BatchFailed",
        "CausePath": "$.error.Cause",  # the failed step's own error, for the operator
    }
    return {
        "Comment": "recs nightly batch: weight, train (tuned), evaluate, gate, export, promote, "
                   "attribution",
        "StartAt": _state_name(STEP_ORDER[0]),
        "States": states,
    }
