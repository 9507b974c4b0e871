"""The nightly batch as an Amazon States Language definition, built in one place.

The CDK app passes the deployed functions' ARNs and the Spark application's (CDK tokens),
and the local runner passes moto's, so the state machine that runs on a laptop is the one
that is deployed. Steps hand each other S3 keys and counts, never data: each step returns
the whole state with its own keys added, which keeps every step re-runnable from the state
it was given.

Two engines train a window (``recs.batch.engine``), and the weight step says which in
``$.engine``:

- ``lambda``: train, evaluate, gate, export (one Lambda), promote, attribution;
- ``spark``: the Spark job on EMR Serverless (``emr-serverless:startJobRun.sync``), then
  train (which only reads the job's manifest into the state), evaluate and the gate as on
  the Lambda path; export is a start, a Distributed Map with a child per row file the job
  wrote, and a finish that sums what the children wrote; promote and attribution as on the
  Lambda path, so promote checks the same counts whichever engine trained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recs.contracts import layout
from recs.contracts.resources import ATTRIBUTION, BATCH_STEPS, EXPORT

STEP_ORDER = tuple(spec.name for spec in BATCH_STEPS)
# Steps after promote whose failure ends the run in a Succeed state of its own, not Failed:
# the model's side of the night is done by then, and a failed execution would set off the
# alarms that watch the batch for the model's sake (a failed run; no successful run in 36
# hours) while the right model is serving. Their own errors still show: the function's
# Errors metric, the execution's history, and the state's ``<step>_error``.
ADVISORY = (ATTRIBUTION.name,)

# The states of the Spark path (the Lambda path's states are named after their steps).
ENGINE = "Engine"
SPARK = "Spark"
EXPORT_START = "ExportStart"
EXPORT_ROWS = "ExportRows"
EXPORT_PART = "ExportPart"
EXPORT_FINISH = "ExportFinish"
# The export function's phases on the Spark path (``functions/export.py`` dispatches on
# the event's ``phase``; an event without one is the Lambda path's whole export).
PHASE_START = "start"
PHASE_PART = "part"
PHASE_FINISH = "finish"
# Where the Distributed Map leaves its children's results for the finish (which drops it).
EXPORT_PARTS_PATH = "export_parts"
# Row files the export writes at once: each child writes its file's rows to DynamoDB as
# fast as the table takes them, so this bounds the table's write rate, not just Lambdas.
DEFAULT_EXPORT_CONCURRENCY = 10
MAX_EXPORT_CONCURRENCY = 1_000

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
# The job itself is not retried: a failed job is a failed night (its logs are under
# logs/spark/), and a second attempt would cost as much as the first. Only a refused
# start (the application's capacity taken, throttling) is tried again, after a while.
_RETRY_SPARK = [
    {
        "ErrorEquals": ["EmrServerless.ServiceQuotaExceededException",
                        "EmrServerless.ThrottlingException",
                        "EmrServerless.InternalServerException"],
        "IntervalSeconds": 60,
        "MaxAttempts": 2,
        "BackoffRate": 2.0,
    }
]
_CATCH_FAILED = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]


@dataclass(frozen=True)
class SparkJob:
    """What the state machine's Spark task runs: the EMR Serverless application and job
    role, the data bucket (the job's ``--store``, the logs' and the row files' bucket), the
    job's script and the zip of the ``recs`` and ``recs_spark`` packages (S3 URIs), the
    ``RECS_*`` settings the job reads (``BatchConfig.from_env``) on the driver and the
    executors, and the Python the job runs: ``python_archive`` (a virtualenv archive's S3
    URI; empty: the release's, or a custom image's, own Python)."""

    application_id: str
    execution_role_arn: str
    bucket: str
    entry_point: str
    py_files: str
    environment: Mapping[str, str] = field(default_factory=dict)
    python_archive: str = ""
    export_concurrency: int = DEFAULT_EXPORT_CONCURRENCY

    def __post_init__(self) -> None:
        if not 1 <= self.export_concurrency <= MAX_EXPORT_CONCURRENCY:
            raise ValueError(f"export concurrency must lie in [1, {MAX_EXPORT_CONCURRENCY}], "
                             f"got {self.export_concurrency}")
        stray = sorted(name for name in self.environment if not name.startswith("RECS_"))
        if stray:
            raise ValueError(f"the Spark job's environment takes RECS_* settings only: {stray}")

    def store_url(self) -> str:
        return f"s3://{self.bucket}"

    def submit_parameters(self) -> str:
        """spark-submit's options: the packages on the Python path, and the virtualenv's
        interpreter on the driver and the executors when there is one."""
        options = [f"--py-files {self.py_files}"]
        if self.python_archive:
            python = f"./{PYTHON_ENV}/bin/python"
            options += [f"--conf spark.archives={self.python_archive}#{PYTHON_ENV}",
                        f"--conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON={python}",
                        f"--conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON={python}",
                        f"--conf spark.executorEnv.PYSPARK_PYTHON={python}"]
        return " ".join(options)

    def spark_properties(self) -> dict[str, str]:
        """The ``RECS_*`` settings as the driver's and executors' environment. They travel
        as ``spark-defaults`` properties, not in the submit parameters, because a setting's
        value may be JSON (``RECS_EVENT_WEIGHTS``), which spark-submit's command line would
        need quoted."""
        properties: dict[str, str] = {}
        for name, value in sorted(self.environment.items()):
            properties[f"{DRIVER_ENV}{name}"] = value
            properties[f"{EXECUTOR_ENV}{name}"] = value
        return properties


PYTHON_ENV = "environment"  # the virtualenv archive's directory on the driver and executors
DRIVER_ENV = "spark.emr-serverless.driverEnv."
EXECUTOR_ENV = "spark.executorEnv."
SPARK_RESOURCE = "arn:aws:states:::emr-serverless:startJobRun.sync"
ROWS_READER_RESOURCE = "arn:aws:states:::s3:listObjectsV2"


def _state_name(step: str) -> str:
    return step.capitalize()


def _skipped_name(step: str) -> str:
    return f"{_state_name(step)}Skipped"


def _lambda_task(function_arn: str, comment: str, payload: Mapping[str, Any] | None = None,
                 ) -> dict[str, Any]:
    """A Lambda step that returns the next state: its payload is the state unless given."""
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn,
                       **({"Payload.$": "$"} if payload is None else {"Payload": payload})},
        "OutputPath": "$.Payload",
        "Retry": _RETRY_TRANSIENT,
        "Catch": _CATCH_FAILED,
    }


def build_definition(function_arns: Mapping[str, str],
                     spark: SparkJob | None = None) -> dict[str, Any]:
    """weight -> (engine) -> train -> evaluate -> gate -> export -> promote -> attribution;
    a failure before attribution -> Failed, of attribution -> AttributionSkipped (Succeed).

    The gate sends a refused candidate straight to ``promote``, which records it as rejected
    with the reason (nothing is exported). A failure stops the run before ``promote`` flips
    the live pointer, so the live model is untouched; the execution's FAILED status is what
    the CloudWatch alarm watches. ``attribution`` (the experiments' nightly recount and the
    live CTR's change) runs after promote, so it can never keep a model from being promoted,
    and it is ``ADVISORY``: its failure is caught into ``$.attribution_error`` and the run
    succeeds, because the run's status speaks for the model (the failed-run and no-success
    alarms), and the recount of every experiment starts over from its creation the next
    night, so a failed night only leaves the previous recount standing a day longer.

    With ``spark`` the weight step's ``$.engine`` chooses the engine (a Choice after weight,
    and a second rule in the gate sends the Spark path's export to its Distributed Map);
    without it every window trains on the Lambda path.
    """
    missing = [s for s in STEP_ORDER if s not in function_arns]
    if missing:
        raise ValueError(f"no function ARN for steps {missing}")
    states: dict[str, Any] = {}
    for index, step in enumerate(STEP_ORDER):
        state = _lambda_task(function_arns[step], f"recs batch step: {step}")
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
    if spark is not None:
        _add_spark_path(states, function_arns, spark)
    return {
        "Comment": "recs nightly batch: weight, train (tuned; or the Spark job for big "
                   "windows), evaluate, gate, export, promote, attribution",
        "StartAt": _state_name(STEP_ORDER[0]),
        "States": states,
    }


def _is_spark(next_state: str) -> dict[str, Any]:
    """A Choice rule: ``$.engine`` is ``spark`` (a missing key is the Lambda path)."""
    return {"And": [{"Variable": "$.engine", "IsPresent": True},
                    {"Variable": "$.engine", "StringEquals": "spark"}],
            "Next": next_state}


def _add_spark_path(states: dict[str, Any], function_arns: Mapping[str, str],
                    spark: SparkJob) -> None:
    weight, train = _state_name(STEP_ORDER[0]), _state_name(STEP_ORDER[1])
    states[weight]["Next"] = ENGINE
    states[ENGINE] = {
        "Type": "Choice",
        "Comment": "The weight step sized the window from its files' footers and chose the "
                   "engine (RECS_ENGINE, RECS_SPARK_MIN_EVENTS).",
        "Choices": [_is_spark(SPARK)],
        "Default": train,
    }
    states[SPARK] = {
        "Type": "Task",
        "Comment": "The Spark job trains the window and writes the version's model, shadow, "
                   "row files and manifest (recs_spark.job); train reads the manifest.",
        "Resource": SPARK_RESOURCE,
        "Parameters": {
            "ApplicationId": spark.application_id,
            "ExecutionRoleArn": spark.execution_role_arn,
            "Name.$": "States.Format('recs-{}', $.version)",
            "JobDriver": {"SparkSubmit": {
                "EntryPoint": spark.entry_point,
                "EntryPointArguments.$": (f"States.Array('--store', '{spark.store_url()}', "
                                          "'--state', States.JsonToString($))"),
                "SparkSubmitParameters": spark.submit_parameters(),
            }},
            "ConfigurationOverrides": {
                "ApplicationConfiguration": [{"Classification": "spark-defaults",
                                              "Properties": spark.spark_properties()}],
                "MonitoringConfiguration": {"S3MonitoringConfiguration": {
                    "LogUri": f"{spark.store_url()}/{layout.spark_logs()}"}},
            },
        },
        "ResultSelector": {"job_run_id.$": "$.JobRunId", "application_id.$": "$.ApplicationId"},
        "ResultPath": "$.spark_job",
        "Retry": _RETRY_SPARK,
        "Catch": _CATCH_FAILED,
        "Next": train,
    }
    export_arn = function_arns[EXPORT.name]
    states["Gate"]["Choices"].append(_is_spark(EXPORT_START))
    states[EXPORT_START] = {
        **_lambda_task(export_arn, "Record the version as exporting, count the rows of its "
                       "files and store their keys before any row is written.",
                       {"phase": PHASE_START, "state.$": "$"}),
        "Next": EXPORT_ROWS,
    }
    states[EXPORT_ROWS] = {
        "Type": "Map",
        "Comment": "One child execution per row file of the version, at most MaxConcurrency "
                   "at once; any child's failure fails the export.",
        "ItemReader": {"Resource": ROWS_READER_RESOURCE,
                       "Parameters": {"Bucket": spark.bucket, "Prefix.$": "$.rows_prefix"}},
        "ItemSelector": {"phase": PHASE_PART, "version.$": "$.version",
                         "key.$": "$$.Map.Item.Value.Key"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": EXPORT_PART,
            "States": {EXPORT_PART: {
                "Type": "Task",
                "Comment": "Write one row file's rows to DynamoDB.",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": export_arn, "Payload.$": "$"},
                # Only the count goes back: the Map's results travel in the state (256 KB).
                "ResultSelector": {"rows_written.$": "$.Payload.rows_written"},
                "Retry": _RETRY_TRANSIENT,
                "End": True,
            }},
        },
        "MaxConcurrency": spark.export_concurrency,
        "ResultPath": f"$.{EXPORT_PARTS_PATH}",
        "Catch": _CATCH_FAILED,
        "Next": EXPORT_FINISH,
    }
    states[EXPORT_FINISH] = {
        **_lambda_task(export_arn, "Sum the rows the children wrote, record the version as "
                       "exported, retire old versions.",
                       {"phase": PHASE_FINISH, "state.$": "$"}),
        "Next": _state_name("promote"),
    }
