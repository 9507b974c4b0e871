"""moto standing in for AWS, with the product's resources and functions inside it.

The tables, bucket, queues, functions and state machine come from ``recs.contracts.resources`` and
``recs.batch.pipeline``, the same definitions the CDK app deploys. moto's Lambda cannot run Python
without Docker, so its simple backend's ``invoke`` is replaced by a dispatcher that calls the
matching handler in this process: Step Functions then runs the real definition against the
real handler code. This leans on moto internals, which is why moto is pinned.

moto's Step Functions interpreter does not run EMR Serverless tasks either (it lists
``emr-serverless`` among the integrations it cannot run), so the state machine's Spark task
(``emr-serverless:startJobRun.sync``) is run here the way EMR Serverless would run it: the
task's own parameters become ``python -m recs_spark.job`` with the task's arguments, and the
``RECS_*`` settings it gives the driver as the process's environment; the process reaches
moto's server through ``AWS_ENDPOINT_URL`` (PySpark in local mode, the executors being its
children). The task returns what ``startJobRun.sync`` returns. This needs the moto server
(``moto_server``): a separate process cannot see the in-process mock.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from recs.batch import pipeline
from recs.batch.config import BatchConfig
from recs.contracts import access, resources

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS_DIR = Path(
    os.environ.get("RECS_FUNCTIONS_DIR", Path(__file__).resolve().parents[1] / "functions")
)

Handler = Callable[[dict[str, Any], Any], Any]

SPARK_JOB_MODULE = "recs_spark.job"  # what EMR Serverless runs (infra/spark/job_entry.py)
SPARK_JOB_TIMEOUT_S = 1800
SPARK_ERROR_CHARS = 4000  # of the job's stderr, in the task's failure cause
BATCH_SETTINGS = frozenset(f"RECS_{f.name.upper()}" for f in fields(BatchConfig))


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def resource_env(queue_url: str, dlq_url: str = "") -> dict[str, str]:
    """The environment the deployed functions get, with the local resource names."""
    env = {table.env_var: table.local_name for table in resources.TABLES}
    env[resources.BUCKET_ENV] = resources.LOCAL_BUCKET
    env[resources.QUEUE_ENV] = queue_url
    env[resources.DLQ_ENV] = dlq_url
    return env


def access_env() -> dict[str, str]:
    """What the stack's API construct gives the HTTP functions, locally: the storefront key's
    id as the local server passes it, the shopper token secret (``RECS_SHOPPER_TOKEN_SECRET``
    when set, else a new one) and the allowed origins (``RECS_CORS_ORIGINS``, else any)."""
    return {
        access.STOREFRONT_KEY_ID_ENV: access.LOCAL_STOREFRONT_KEY_ID,
        access.SHOPPER_SECRET_ENV: (os.environ.get(access.SHOPPER_SECRET_ENV)
                                    or secrets.token_urlsafe(32)),
        access.CORS_ORIGINS_ENV: os.environ.get(access.CORS_ORIGINS_ENV) or "*",
    }


def _fake_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs in-process: see recs_local.cloud")
    return buffer.getvalue()


def create_tables() -> None:
    """The tables of ``recs.contracts.resources`` in moto, with the keys and TTL the CDK app
    gives them."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table in resources.TABLES:
        keys = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
        attributes = [{"AttributeName": table.partition_key, "AttributeType": "S"}]
        if table.sort_key:
            keys.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
            attributes.append({"AttributeName": table.sort_key, "AttributeType": "S"})
        dynamodb.create_table(TableName=table.local_name, KeySchema=keys,
                              AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST")
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.local_name,
                TimeToLiveSpecification={"Enabled": True,
                                         "AttributeName": table.ttl_attribute},
            )


class LocalCloud:
    """Create everything in moto (already started by the caller) and run the functions."""

    def __init__(self) -> None:
        self._modules: dict[str, ModuleType] = {}
        self.queue_url = ""
        self.dlq_url = ""
        self.state_machine_arn = ""

    # -- set-up -----------------------------------------------------------------------------
    def create(self) -> None:
        create_tables()
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=resources.LOCAL_BUCKET)
        sqs = boto3.client("sqs", region_name=REGION)
        self.dlq_url = sqs.create_queue(QueueName=resources.LOCAL_DLQ)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.queue_url = sqs.create_queue(
            QueueName=resources.LOCAL_QUEUE,
            Attributes={
                "VisibilityTimeout": "0",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                             "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        os.environ.update(resource_env(self.queue_url, self.dlq_url))
        os.environ.update(access_env())

        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="recs-local", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        lambdas = boto3.client("lambda", region_name=REGION)
        arns = {}
        for spec in resources.FUNCTIONS:
            arns[spec.name] = lambdas.create_function(
                FunctionName=spec.name, Runtime="python3.12", Role=role,
                Handler=f"{spec.module}.handler", Code={"ZipFile": _fake_zip()},
            )["FunctionArn"]
        application = boto3.client("emr-serverless", region_name=REGION).create_application(
            name=resources.SPARK_APPLICATION_NAME, releaseLabel=resources.SPARK_RELEASE_LABEL,
            type="SPARK")
        spark = pipeline.SparkJob(
            application_id=application["applicationId"], execution_role_arn=role,
            bucket=resources.LOCAL_BUCKET, entry_point=f"local:{SPARK_JOB_MODULE}",
            py_files="local:recs,recs_spark",
            environment={name: value for name, value in os.environ.items()
                         if name in BATCH_SETTINGS})
        definition = pipeline.build_definition(arns, spark)
        self.state_machine_arn = boto3.client("stepfunctions", region_name=REGION)\
            .create_state_machine(name=resources.STATE_MACHINE_NAME,
                                  definition=json.dumps(definition), roleArn=role)[
            "stateMachineArn"]

    # -- running functions ------------------------------------------------------------------
    def handler(self, name: str) -> Handler:
        """The ``handler`` of ``functions/<module>.py``, imported once like a cold start."""
        spec = next(s for s in resources.FUNCTIONS if s.name == name)
        if name not in self._modules:
            path = FUNCTIONS_DIR / f"{spec.module}.py"
            module_spec = importlib.util.spec_from_file_location(f"recs_fn_{spec.module}", path)
            if module_spec is None or module_spec.loader is None:
                raise FileNotFoundError(f"no handler module at {path}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            self._modules[name] = module
        handler: Handler = self._modules[name].handler
        return handler

    def module(self, name: str) -> ModuleType:
        """The loaded handler module (tests reconfigure a warm function through it)."""
        self.handler(name)
        return self._modules[name]

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        context = LambdaContext(function_name=name, aws_request_id=str(uuid.uuid4()))
        return self.handler(name)(event, context)

    def pump_queue(self, max_rounds: int = 10_000) -> int:
        """Deliver queued messages to the lander as the SQS event source mapping does."""
        sqs = boto3.client("sqs", region_name=REGION)
        delivered = 0
        for _ in range(max_rounds):
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            event = {"Records": [_sqs_record(m, self.queue_url) for m in messages]}
            failures = {f["itemIdentifier"]
                        for f in self.invoke("lander", event).get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failures]
            for start in range(0, len(done), 10):
                sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start:start + 10])
                ])
            delivered += len(done)
        return delivered

    def run_batch(self, as_of: str | None = None, timeout_s: float = 600) -> dict[str, Any]:
        """Start the state machine and wait; returns status, output or error."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        execution = sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=f"run-{as_of or 'today'}-{uuid.uuid4().hex[:8]}",
            input=json.dumps({"as_of": as_of} if as_of else {}),
        )["executionArn"]
        deadline = time.monotonic() + timeout_s
        while True:
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return {
            "status": described["status"],
            "output": json.loads(described.get("output") or "null"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        }


def _sqs_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": REGION,
    }


class SparkJobFailed(RuntimeError):
    """The local run of the Spark task's job failed; the message ends with its stderr."""


def spark_job_command(parameters: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The command and the ``RECS_*`` settings the Spark task's parameters give: its
    ``EntryPointArguments`` after ``python -m recs_spark.job``, the driver's environment of
    its ``spark-defaults`` properties (``recs.batch.pipeline.SparkJob``)."""
    arguments = parameters["JobDriver"]["SparkSubmit"]["EntryPointArguments"]
    settings: dict[str, str] = {}
    for configuration in parameters.get("ConfigurationOverrides", {}).get(
            "ApplicationConfiguration", []):
        if configuration.get("Classification") != "spark-defaults":
            continue
        for name, value in configuration.get("Properties", {}).items():
            if name.startswith(pipeline.DRIVER_ENV):
                settings[name[len(pipeline.DRIVER_ENV):]] = str(value)
    return [sys.executable, "-m", SPARK_JOB_MODULE, *map(str, arguments)], settings


def run_spark_job(parameters: Mapping[str, Any]) -> dict[str, str]:
    """Run the task's job to its end as EMR Serverless would; what ``startJobRun.sync``
    returns. The job gets this process's environment (credentials, ``AWS_ENDPOINT_URL``)
    with the batch settings replaced by the task's."""
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise SparkJobFailed("the Spark job runs in its own process, which reaches moto only "
                             "through its server (recs_local.cloud.moto_server), not the "
                             "in-process mock")
    command, settings = spark_job_command(parameters)
    environment = {name: value for name, value in os.environ.items()
                   if name not in BATCH_SETTINGS}
    environment.update(settings)
    completed = subprocess.run(command, env=environment, capture_output=True, text=True,
                               timeout=SPARK_JOB_TIMEOUT_S, check=False)
    if completed.returncode != 0:
        raise SparkJobFailed(f"{SPARK_JOB_MODULE} exited with {completed.returncode}: "
                             f"{completed.stderr[-SPARK_ERROR_CHARS:]}")
    application = str(parameters["ApplicationId"])
    run_id = uuid.uuid4().hex[:16]
    # The finished job run's fields, as the .sync integration hands them on.
    return {"ApplicationId": application, "JobRunId": run_id,
            "Arn": f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{application}"
                   f"/jobruns/{run_id}",
            "Name": str(parameters.get("Name", "")), "State": "SUCCESS"}


def _emr_serverless_task() -> type:
    """moto's task state for ``emr-serverless``: ``startJobRun`` (``.sync`` or not) runs
    the job with ``run_spark_job``; its failure is the task's ``States.TaskFailed``."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class EmrServerlessTask(state_task_service.StateTaskService):  # type: ignore[misc]
        def _validate_service_integration_is_supported(self) -> None:
            if self.resource.api_action != "startJobRun":
                raise ValueError(f"the local cloud runs emr-serverless:startJobRun only, "
                                 f"not {self.resource.api_action}")

        def _eval_service_task(self, env: Any, resource_runtime_part: Any,
                               normalised_parameters: dict[str, Any],
                               state_credentials: Any) -> None:
            env.stack.append(run_spark_job(normalised_parameters))

        def _from_error(self, env: Any, ex: Exception) -> Any:
            if not isinstance(ex, SparkJobFailed | subprocess.TimeoutExpired):
                return super()._from_error(env, ex)
            failed = StatesErrorNameType.StatesTaskFailed
            return FailureEvent(
                env=env, error_name=StatesErrorName(typ=failed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=failed.to_name(), cause=str(ex),
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type())))

    return EmrServerlessTask


@contextmanager
def _patched_emr_serverless() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        state_task_factory,
    )

    original = state_task_factory.state_task_service_for
    task = _emr_serverless_task()

    def service_for(service_name: str) -> Any:
        return task() if service_name == "emr-serverless" else original(service_name)

    state_task_factory.state_task_service_for = service_for  # type: ignore[assignment]
    try:
        yield
    finally:
        state_task_factory.state_task_service_for = original


def _dispatching_invoke(cloud: LocalCloud) -> Callable[..., bytes]:
    def invoke(backend: Any, function_name: str, qualifier: str | None, body: Any,
               headers: Any, response_headers: Any) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        payload = json.loads(body) if body else {}
        try:
            return json.dumps(cloud.invoke(name, payload)).encode()
        except Exception as exc:  # reported to Step Functions as Lambda does
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": str(exc),
                               "errorType": type(exc).__name__}).encode()
    return invoke


def _base_environment() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "recs",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@contextmanager
def _patched_lambda(cloud: LocalCloud) -> Iterator[None]:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke
    LambdaSimpleBackend.invoke = _dispatching_invoke(cloud)  # type: ignore[method-assign]
    try:
        yield
    finally:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]


MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True},
                    "lambda": {"use_docker": False}}


@contextmanager
def in_process() -> Iterator[LocalCloud]:
    """moto's in-process mock (for tests): nothing listens on a port."""
    from moto import mock_aws

    saved = dict(os.environ)
    os.environ.update(_base_environment())
    os.environ.pop("AWS_ENDPOINT_URL", None)
    cloud = LocalCloud()
    try:
        with mock_aws(config=MOTO_CONFIG), _patched_lambda(cloud), _patched_emr_serverless():
            cloud.create()
            yield cloud
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def moto_server(port: int | None = None) -> Iterator[LocalCloud]:
    """A ThreadedMotoServer on loopback (for the demo): the AWS CLI can look inside too."""
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    port = port or free_port()
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    default_user_config["lambda"]["use_docker"] = False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(_base_environment())
    # No CloudWatch reads the functions' metric lines in the demo: they would only bury its
    # console (POWERTOOLS_METRICS_DISABLED=false shows them; the in-process cloud of the
    # tests keeps them, where tests read them).
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    os.environ["MOTO_PORT"] = str(port)
    cloud = LocalCloud()
    try:
        with _patched_lambda(cloud), _patched_emr_serverless():
            cloud.create()
            yield cloud
    finally:
        # moto's backends live in this process, not in the server: reset them, so a later
        # server in the same process (another test module) starts empty.
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=30).close()
        server.stop()
