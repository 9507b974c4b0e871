"""The state machine's definition read as a spec: both engines' paths, state by state.

Pure Python on the dict ``build_definition`` returns; the template tests
(``tests/infra``) check the deployed definition is this one, and the local cloud's tests run
it on moto.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from recs.batch.pipeline import (
    DEFAULT_EXPORT_CONCURRENCY,
    EXPORT_FINISH,
    EXPORT_PART,
    EXPORT_PARTS_PATH,
    EXPORT_ROWS,
    EXPORT_START,
    PHASE_FINISH,
    PHASE_PART,
    PHASE_START,
    SPARK,
    STEP_ORDER,
    SparkJob,
    build_definition,
)
from recs.contracts import layout

ARNS = {step: f"arn:aws:lambda:us-east-1:123456789012:function:{step}" for step in STEP_ORDER}
JOB = SparkJob(application_id="app-1", execution_role_arn="arn:aws:iam::123456789012:role/job",
               bucket="data-bucket", entry_point="s3://assets/entry.py",
               py_files="s3://assets/recs.zip",
               environment={"RECS_HALF_LIFE_DAYS": "14", "RECS_EVENT_WEIGHTS": '{"view": 2}'},
               python_archive="s3://assets/venv.tar.gz", export_concurrency=25)


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    found: dict[str, Any] = build_definition(ARNS, JOB)["States"]
    return found


def walk(states: dict[str, Any], start: str, choose: dict[str, str]) -> list[str]:
    """The states a run passes, taking at each Choice the state ``choose`` names (its Default
    otherwise) and each Task's Next."""
    path, name = [], start
    while True:
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            name = choose.get(name, state["Default"])
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            return path
        else:
            name = state["Next"]


def test_the_lambda_path_is_todays_batch(states: dict[str, Any]) -> None:
    assert walk(states, "Weight", {}) == [
        "Weight", "Engine", "Train", "Evaluate", "Gate", "Export", "Promote", "Attribution"]


def test_the_spark_path_runs_the_job_then_the_shared_steps_and_the_map(
        states: dict[str, Any]) -> None:
    assert walk(states, "Weight", {"Engine": SPARK, "Gate": EXPORT_START}) == [
        "Weight", "Engine", SPARK, "Train", "Evaluate", "Gate", EXPORT_START, EXPORT_ROWS,
        EXPORT_FINISH, "Promote", "Attribution"]


def test_the_engine_and_the_gate_choose_on_the_weight_steps_engine(
        states: dict[str, Any]) -> None:
    spark_rule = {"And": [{"Variable": "$.engine", "IsPresent": True},
                          {"Variable": "$.engine", "StringEquals": "spark"}]}
    assert states["Engine"]["Choices"] == [{**spark_rule, "Next": SPARK}]
    assert states["Engine"]["Default"] == "Train"
    # A refused candidate goes to promote on both paths, before the engine is looked at.
    assert states["Gate"]["Choices"] == [
        {"Variable": "$.gate.ok", "BooleanEquals": False, "Next": "Promote"},
        {**spark_rule, "Next": EXPORT_START}]
    assert states["Gate"]["Default"] == "Export"


def test_the_spark_task_starts_the_job_and_waits_for_it(states: dict[str, Any]) -> None:
    task = states[SPARK]
    assert task["Resource"] == "arn:aws:states:::emr-serverless:startJobRun.sync"
    parameters = task["Parameters"]
    assert (parameters["ApplicationId"], parameters["ExecutionRoleArn"]) == (
        "app-1", "arn:aws:iam::123456789012:role/job")
    submit = parameters["JobDriver"]["SparkSubmit"]
    assert submit["EntryPoint"] == "s3://assets/entry.py"
    # recs_spark.job's contract: --store <url> --state <the weight step's state as JSON>.
    assert submit["EntryPointArguments.$"] == (
        "States.Array('--store', 's3://data-bucket', '--state', States.JsonToString($))")
    assert submit["SparkSubmitParameters"].split(" --conf ") == [
        "--py-files s3://assets/recs.zip",
        "spark.archives=s3://assets/venv.tar.gz#environment",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON=./environment/bin/python",
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python",
        "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python"]
    overrides = parameters["ConfigurationOverrides"]
    assert overrides["ApplicationConfiguration"] == [{
        "Classification": "spark-defaults",
        "Properties": {
            "spark.emr-serverless.driverEnv.RECS_EVENT_WEIGHTS": '{"view": 2}',
            "spark.executorEnv.RECS_EVENT_WEIGHTS": '{"view": 2}',
            "spark.emr-serverless.driverEnv.RECS_HALF_LIFE_DAYS": "14",
            "spark.executorEnv.RECS_HALF_LIFE_DAYS": "14"}}]
    assert overrides["MonitoringConfiguration"] == {"S3MonitoringConfiguration": {
        "LogUri": f"s3://data-bucket/{layout.spark_logs()}"}}
    assert task["ResultSelector"] == {"job_run_id.$": "$.JobRunId",
                                      "application_id.$": "$.ApplicationId"}
    assert task["ResultPath"] == "$.spark_job"  # the state passes on with the run's id
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                              "Next": "Failed"}]
    # A failed job is not run again (it would cost as much again); a refused start is.
    retried = {error for rule in task["Retry"] for error in rule["ErrorEquals"]}
    assert retried and not retried & {"States.ALL", "States.TaskFailed"}


def test_without_a_virtualenv_the_job_runs_the_images_python() -> None:
    plain = SparkJob(application_id="a", execution_role_arn="r", bucket="b",
                     entry_point="s3://x/e.py", py_files="s3://x/p.zip")
    assert plain.submit_parameters() == "--py-files s3://x/p.zip"


def test_the_export_map_has_a_child_per_row_file_bounded_and_distributed(
        states: dict[str, Any]) -> None:
    export = ARNS["export"]
    start, rows, finish = states[EXPORT_START], states[EXPORT_ROWS], states[EXPORT_FINISH]
    assert start["Parameters"] == {"FunctionName": export,
                                   "Payload": {"phase": PHASE_START, "state.$": "$"}}
    assert finish["Parameters"] == {"FunctionName": export,
                                    "Payload": {"phase": PHASE_FINISH, "state.$": "$"}}
    assert rows["Type"] == "Map" and rows["MaxConcurrency"] == 25
    assert rows["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED",
                                                        "ExecutionType": "STANDARD"}
    assert rows["ItemReader"] == {"Resource": "arn:aws:states:::s3:listObjectsV2",
                                  "Parameters": {"Bucket": "data-bucket",
                                                 "Prefix.$": "$.rows_prefix"}}
    assert rows["ItemSelector"] == {"phase": PHASE_PART, "version.$": "$.version",
                                    "key.$": "$$.Map.Item.Value.Key"}
    child = rows["ItemProcessor"]["States"][EXPORT_PART]
    assert child["Parameters"] == {"FunctionName": export, "Payload.$": "$"}
    assert child["ResultSelector"] == {"rows_written.$": "$.Payload.rows_written"}
    assert child["Retry"] == states["Export"]["Retry"]  # Lambda's transient errors
    assert rows["ResultPath"] == f"$.{EXPORT_PARTS_PATH}"
    for state in (start, rows, finish):
        assert state["Catch"][0]["Next"] == "Failed"


def test_export_concurrency_is_bounded() -> None:
    assert SparkJob(application_id="a", execution_role_arn="r", bucket="b", entry_point="e",
                    py_files="p").export_concurrency == DEFAULT_EXPORT_CONCURRENCY
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="export concurrency"):
            SparkJob(application_id="a", execution_role_arn="r", bucket="b", entry_point="e",
                     py_files="p", export_concurrency=bad)


def test_the_job_is_given_recs_settings_only() -> None:
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        SparkJob(application_id="a", execution_role_arn="r", bucket="b", entry_point="e",
                 py_files="p", environment={"AWS_SECRET_ACCESS_KEY": "x"})


def test_every_next_names_a_state_and_every_state_is_reached(states: dict[str, Any]) -> None:
    targets = {"Weight"}
    for state in states.values():
        targets |= {state[k] for k in ("Next", "Default") if k in state}
        targets |= {rule["Next"] for k in ("Choices", "Catch") for rule in state.get(k, [])}
    assert targets == set(states)


def test_without_spark_there_is_no_engine_choice() -> None:
    states = build_definition(ARNS)["States"]
    assert states["Weight"]["Next"] == "Train"
    assert not {"Engine", SPARK, EXPORT_START, EXPORT_ROWS, EXPORT_FINISH} & set(states)
    json.dumps(states)  # plain JSON, as Step Functions takes it


def test_the_local_cloud_runs_the_job_the_task_describes(states: dict[str, Any]) -> None:
    """recs_local.cloud stands in for EMR Serverless from the task's own parameters: the job's
    module with the task's arguments, and the driver's RECS_* environment."""
    import sys

    from recs_local.cloud import SPARK_JOB_MODULE, spark_job_command

    parameters = json.loads(json.dumps(states[SPARK]["Parameters"]))
    submit = parameters["JobDriver"]["SparkSubmit"]
    del submit["EntryPointArguments.$"]  # as Step Functions evaluates it for this state:
    state = {"version": "20261124-abc", "engine": "spark"}
    submit["EntryPointArguments"] = ["--store", "s3://data-bucket", "--state", json.dumps(state)]
    command, settings = spark_job_command(parameters)
    assert command == [sys.executable, "-m", SPARK_JOB_MODULE, "--store", "s3://data-bucket",
                       "--state", json.dumps(state)]
    assert settings == dict(JOB.environment)
