"""The nightly batch as an Amazon States Language definition, built in one place.

The CDK app passes the deployed functions' ARNs (CDK tokens) and the local runner passes
moto's, so the state machine that runs on a laptop is the one that is deployed. Steps hand
each other S3 keys and counts, never data: each step returns the whole state with its own
keys added, which keeps every step re-runnable from the state it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recs.contracts.resources import BATCH_STEPS

STEP_ORDER = tuple(spec.name for spec in BATCH_STEPS)

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


def build_definition(function_arns: Mapping[str, str]) -> dict[str, Any]:
    """weight -> train -> evaluate -> gate -> export -> promote; any failure -> Failed.

    The gate sends a refused candidate straight to ``promote``, which records it as rejected
    with the reason (nothing is exported). A failure stops the run before ``promote`` flips
    the live pointer, so the live model is untouched; the execution's FAILED status is what
    the CloudWatch alarm watches.
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
        "Comment": "recs nightly batch: weight, train (tuned), evaluate, gate, export, promote",
        "StartAt": _state_name(STEP_ORDER[0]),
        "States": states,
    }
