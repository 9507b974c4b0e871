"""RecsStack: everything recs runs on, built from ``recs.contracts.resources`` and
``recs.batch.pipeline``.

CDK context (``-c key=value`` or ``cdk.json``), all optional:

========================  ==========================  ==========================================
key                       default                     meaning
========================  ==========================  ==========================================
``layer_root``            ``build/layers``            where ``layers/build_layers.py`` wrote
``arch``                  ``x86_64``                  ``x86_64`` or ``arm64`` (layers to match)
``recs_config``           ``{}``                      settings, ``{"half_life_days": 14}``
                                                      -> ``RECS_HALF_LIFE_DAYS=14`` on functions
``schedule``              ``cron(0 3 * * ? *)``       EventBridge Scheduler expression
``schedule_timezone``     ``UTC``                     IANA zone the expression is read in
``require_api_key``       ``true``                    API key on every route
``api_rate_limit``        ``100``                     requests/s, stage and usage plan
``api_burst_limit``       ``200``                     burst, stage and usage plan
``storefront_rate_limit`` ``20``                      requests/s, the storefront key's plan
``storefront_burst_limit`` ``40``                     burst, the storefront key's plan
``cors_origins``          the storefront's URL        origins browsers may call the API from
                                                      (a list, or comma-separated; ``[]``
                                                      none, ``["*"]`` any)
``log_level``             ``INFO``                    functions' ``LOG_LEVEL``
``alarm_email``           (none)                      subscribe this address to the alarms
``stale_model_days``      ``3``                       alarm when no model was promoted for
                                                      this many days (1 to 7, CloudWatch's
                                                      longest evaluation range)
``events_retention_days`` ``keep``                    expire raw events (``events/``) and
                                                      the lander's quarantine
                                                      (``events-rejected/``) after this many
                                                      days (at least the training window);
                                                      ``keep``: never
``allow_stale_layers``    ``false``                   tests only: accept layers built from an
                                                      older recs package (synth refuses them)
``emr_*``,                see infra/constructs_spark  the Spark engine's application, Python
``export_concurrency``                                and the export's Distributed Map
========================  ==========================  ==========================================

Retention in the data bucket (``bucket_retention``): ``interactions/`` and ``models/`` expire
``RECS_MODEL_TTL_DAYS`` (``recs_config``'s ``model_ttl_days``) plus ``ARTEFACT_MARGIN_DAYS``
after they were written, so with nightly promotions a version's artefacts outlive its
DynamoDB rows; catalog deltas are kept (the catalog snapshot folds every one of them); raw
events and the quarantine as ``events_retention_days`` says. Incomplete multipart uploads are
aborted after a day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Aws, CfnOutput, Duration, Stack, TimeZone
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.access import (
    BUCKET_READ,
    BUCKET_WRITE,
    DEAD_LETTER_DEPTH,
    DYNAMODB_ACTIONS,
    QUEUE_SEND,
    dynamodb_iam_actions,
)
from infra.constructs_api import RecsApi
from infra.constructs_layers import (
    ARCHITECTURES,
    DEFAULT_LAYER_ROOT,
    REPO_ROOT,
    RUNTIME,
    layer_versions,
)
from infra.constructs_monitoring import RecsMonitoring
from infra.constructs_nag import acknowledge, arn_ref
from infra.constructs_spark import RecsSpark, SparkSettings
from infra.constructs_storefront import RecsStorefront
from recs.batch.config import BatchConfig
from recs.batch.pipeline import build_definition
from recs.contracts import layout, resources
from recs.contracts.resources import FunctionSpec, TableSpec
from recs.exceptions import ConfigError
from recs.serving.settings import ServingConfig

FUNCTIONS_DIR = REPO_ROOT / "functions"
DEFAULT_SCHEDULE = "cron(0 3 * * ? *)"
LANDER_BATCH_SIZE = 100
LANDER_BATCH_WINDOW = Duration.seconds(30)
DLQ_MAX_RECEIVE_COUNT = 5
# How much longer than RECS_MODEL_TTL_DAYS a version's artefacts (interactions/<version>/,
# models/<version>/) are kept, counted from the day they were written. Its DynamoDB rows are
# deleted RECS_MODEL_TTL_DAYS after it stopped being live (recs.batch.retire, a few versions
# a night), which with nightly promotions is a day or two after it was written: a week
# covers that and a retire backlog. A version live for longer can lose its artefacts while
# its rows stay; nothing needs them then (the rows serve, a rollback needs only the rows,
# and evaluate skips comparing against a live model whose artefact is gone).
ARTEFACT_MARGIN_DAYS = 7
# Days the Spark job's logs stay under logs/ in the data bucket.
LOG_RETENTION_DAYS = 30
# CloudWatch evaluates an alarm over at most seven days (Period x EvaluationPeriods).
MAX_STALE_MODEL_DAYS = 7



def _bool(value: object, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"context {key}: expected true or false, got {value!r}")


def _retention_days(value: object, key: str) -> int | None:
    """A retention in whole days, or None for ``keep`` (never expire)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "keep")):
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if days < 1 or isinstance(value, bool):
        raise ConfigError(f"context {key}: expected a number of days >= 1 or keep, got {value!r}")
    return days


def config_env(raw: object) -> dict[str, str]:
    """``recs_config`` (a dict, or its JSON from ``-c``) as ``RECS_*`` environment variables.

    Keys are ``BatchConfig`` fields; names and values are checked the way the functions will
    read them (``BatchConfig.from_env``), so a typo or a bad value fails ``cdk synth`` rather
    than being ignored or failing every cold start.
    """
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"context recs_config: not JSON: {raw!r}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(f"context recs_config: expected an object, got {raw!r}")
    env: dict[str, str] = {}
    for key, value in raw.items():
        name = str(key).upper()
        name = name if name.startswith("RECS_") else f"RECS_{name}"
        if isinstance(value, Mapping | list):
            env[name] = json.dumps(value)
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        else:
            env[name] = str(value)
    known = {f"RECS_{f.name.upper()}" for f in (*fields(BatchConfig), *fields(ServingConfig))}
    unknown = sorted(set(env) - known)
    if unknown:
        names = sorted(name.removeprefix("RECS_").lower() for name in known)
        raise ConfigError(f"context recs_config: unknown settings {unknown}; known: {names}")
    BatchConfig.from_env(env)  # raises ConfigError naming the variable
    ServingConfig.from_env(env)
    return env


@dataclass(frozen=True)
class Settings:
    """The stack's knobs, read from CDK context (see the module docstring)."""

    layer_root: Path = DEFAULT_LAYER_ROOT
    arch: str = "x86_64"
    recs_config: dict[str, str] = field(default_factory=dict)
    schedule: str = DEFAULT_SCHEDULE
    schedule_timezone: str = "UTC"
    require_api_key: bool = True
    api_rate_limit: float = 100
    api_burst_limit: int = 200
    storefront_rate_limit: float = 20
    storefront_burst_limit: int = 40
    cors_origins: tuple[str, ...] | None = None  # None: the storefront distribution's origin
    log_level: str = "INFO"
    alarm_email: str | None = None
    stale_model_days: int = 3
    events_retention_days: int | None = None
    allow_stale_layers: bool = False

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        def get(key: str, default: Any) -> Any:
            value = scope.node.try_get_context(key)
            return default if value is None or value == "" else value

        defaults = cls()
        values = {f.name: get(f.name, getattr(defaults, f.name)) for f in fields(cls)}
        root = Path(values["layer_root"])
        arch = str(values["arch"])
        if arch not in ARCHITECTURES:
            raise ConfigError(f"context arch: expected one of {sorted(ARCHITECTURES)}")
        return cls(
            layer_root=root if root.is_absolute() else REPO_ROOT / root,
            arch=arch,
            recs_config=config_env(scope.node.try_get_context("recs_config")),
            schedule=str(values["schedule"]),
            schedule_timezone=str(values["schedule_timezone"]),
            require_api_key=_bool(values["require_api_key"], "require_api_key"),
            api_rate_limit=float(values["api_rate_limit"]),
            api_burst_limit=int(values["api_burst_limit"]),
            storefront_rate_limit=float(values["storefront_rate_limit"]),
            storefront_burst_limit=int(values["storefront_burst_limit"]),
            cors_origins=_origins(values["cors_origins"]),
            log_level=str(values["log_level"]).upper(),
            alarm_email=values["alarm_email"] or None,
            stale_model_days=_stale_model_days(values["stale_model_days"]),
            events_retention_days=_retention_days(
                values["events_retention_days"], "events_retention_days"
            ),
            allow_stale_layers=_bool(values["allow_stale_layers"], "allow_stale_layers"),
        )


def _origins(value: object) -> tuple[str, ...] | None:
    """``cors_origins``: a list (cdk.json, or ``-c 'cors_origins=["https://a"]'``) or
    comma-separated text; None when not set (the default applies)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"context cors_origins: not a JSON list: {exc}") from exc
        else:
            value = text.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(o, str) for o in value):
        raise ConfigError(f"context cors_origins: expected a list of origins, got {value!r}")
    found = tuple(dict.fromkeys(o.strip().rstrip("/") for o in value if o.strip()))
    bad = [o for o in found if o != "*" and not o.startswith(("https://", "http://"))]
    if bad or ("*" in found and len(found) > 1):
        raise ConfigError(f"context cors_origins: origins are scheme://host[:port], or * "
                          f"alone; got {list(found)}")
    return found


def _stale_model_days(value: object) -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_STALE_MODEL_DAYS or isinstance(value, bool):
        raise ConfigError(
            f"context stale_model_days: expected 1 to {MAX_STALE_MODEL_DAYS} days, got {value!r}"
        )
    return days


def bucket_retention(settings: Settings) -> dict[str, int | None]:
    """Days an object under each top-level prefix of the data bucket lives; None: for ever.

    Every prefix of ``recs.contracts.layout`` gets a decision here (a test checks), so a new
    prefix cannot be kept, or expired, by accident.
    """
    batch = BatchConfig.from_env(settings.recs_config)
    artefacts = batch.model_ttl_days + ARTEFACT_MARGIN_DAYS
    events = settings.events_retention_days
    if events is not None and events < batch.training_window_days:
        raise ConfigError(
            f"context events_retention_days: {events} days would expire events inside the "
            f"training window ({batch.training_window_days} days, training_window_days); "
            "the nightly batch would train on fewer days without saying so"
        )
    return {
        layout.EVENTS: events,
        # Messages the lander refused, kept like the events until an operator redrives them.
        layout.EVENTS_REJECTED: events,
        # Deltas have no window: the snapshot folds every one since the first import.
        layout.CATALOG: None,
        # Written by each night's run, read by its own later steps and, for the live model,
        # by the next nights' evaluate (which does without it once expired).
        layout.INTERACTIONS: artefacts,
        layout.MODELS: artefacts,
        # The Spark job's logs: long enough to read a failed night's, no longer.
        layout.LOGS: LOG_RETENTION_DAYS,
    }


def _construct_name(spec_name: str) -> str:
    return spec_name.capitalize()


class RecsStack(Stack):
    """Data stores, functions, the nightly batch and its schedule, the API, alarms."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings = Settings.from_context(self)
        if not FUNCTIONS_DIR.is_dir():
            raise FileNotFoundError(f"{FUNCTIONS_DIR} (the functions' code asset) is missing")

        self.tables = {spec.logical_id: self._table(spec) for spec in resources.TABLES}
        self.bucket = self._bucket()
        self.queue, self.dead_letter_queue = self._queues()
        resource_env = {
            **{spec.env_var: self.tables[spec.logical_id].table_name for spec in resources.TABLES},
            resources.BUCKET_ENV: self.bucket.bucket_name,
            resources.QUEUE_ENV: self.queue.queue_url,
            resources.DLQ_ENV: self.dead_letter_queue.queue_url,
        }

        self.layers = layer_versions(
            self,
            [name for spec in resources.FUNCTIONS for name in spec.layers],
            settings.layer_root,
            settings.arch,
            allow_stale=settings.allow_stale_layers,
        )
        code = lambda_.Code.from_asset(
            str(FUNCTIONS_DIR), exclude=["__pycache__", "*.pyc", ".pytest_cache"]
        )
        self.functions = {
            spec.name: self._function(spec, code, resource_env) for spec in resources.FUNCTIONS
        }
        self._grant_access()
        self.functions[resources.LANDER.name].add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=LANDER_BATCH_SIZE,
                max_batching_window=LANDER_BATCH_WINDOW,
                report_batch_item_failures=True,
            )
        )

        # The Spark engine for windows past RECS_SPARK_MIN_EVENTS (infra/constructs_spark.py).
        self.spark = RecsSpark(self, "Spark", bucket=self.bucket,
                               recs_config=settings.recs_config,
                               settings=SparkSettings.from_context(self))
        self.state_machine = self._state_machine()
        self.schedule = self._schedule()
        self.api = RecsApi(
            self,
            "Api",
            functions={
                name: self.functions[name]
                for name in (resources.API.name, resources.INGEST.name, resources.ADMIN.name)
            },
            require_api_key=settings.require_api_key,
            rate_limit=settings.api_rate_limit,
            burst_limit=settings.api_burst_limit,
            storefront_rate_limit=settings.storefront_rate_limit,
            storefront_burst_limit=settings.storefront_burst_limit,
        )
        self.monitoring = RecsMonitoring(
            self,
            "Monitoring",
            state_machine=self.state_machine,
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            rest_api=self.api.rest_api,
            functions=self.functions,
            alarm_email=settings.alarm_email,
            stale_model_days=settings.stale_model_days,
        )
        # The demo storefront; its config.json publishes the key it is given: the storefront
        # key, public by design. Browsers may call the API from its origin unless
        # cors_origins says otherwise.
        self.storefront = RecsStorefront(
            self, "Storefront", rest_api=self.api.rest_api, api_key=self.api.storefront_key
        )
        self.api.allow_origins(
            settings.cors_origins if settings.cors_origins is not None
            else [f"https://{self.storefront.distribution.distribution_domain_name}"])
        self._outputs()

    # --- data -------------------------------------------------------------------------------

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        string = dynamodb.AttributeType.STRING
        return dynamodb.Table(
            self,
            spec.logical_id,
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=string),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=string) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
        )

    def _bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )  # cdk-nag S1 does not ask a log target bucket to log itself
        return s3.Bucket(
            self,
            "DataBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,  # model versions are kept by key (models/<version>/), not by S3
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=self._lifecycle_rules(),
        )

    def _lifecycle_rules(self) -> list[s3.LifecycleRule]:
        """Expiry per top-level prefix (``bucket_retention``), and no upload left half done.

        The bucket is not versioned, so an expired object is gone: there are no noncurrent
        versions to expire.
        """
        rules = [
            s3.LifecycleRule(
                id="abort-incomplete-multipart-uploads",
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ]
        for prefix, days in bucket_retention(self.settings).items():
            if days is not None:
                rules.append(
                    s3.LifecycleRule(
                        id=f"expire-{prefix.rstrip('/')}",
                        prefix=prefix,
                        expiration=Duration.days(days),
                    )
                )
        return rules

    def _queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letters = sqs.Queue(
            self,
            "EventsDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )  # cdk-nag SQS3 recognises it as the events queue's DLQ
        lander_timeout = Duration.seconds(resources.LANDER.timeout_s)
        queue = sqs.Queue(
            self,
            "EventsQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS guidance for SQS event sources: 6 x function timeout + batching window.
            visibility_timeout=Duration.seconds(
                6 * lander_timeout.to_seconds() + LANDER_BATCH_WINDOW.to_seconds()
            ),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letters, max_receive_count=DLQ_MAX_RECEIVE_COUNT
            ),
        )
        return queue, dead_letters

    # --- functions --------------------------------------------------------------------------

    def _function(
        self, spec: FunctionSpec, code: lambda_.Code, resource_env: Mapping[str, str]
    ) -> lambda_.Function:
        name = _construct_name(spec.name)
        missing = [var for var in spec.env if var not in resource_env]
        if missing:
            raise ConfigError(f"function {spec.name}: no resource for environment {missing}")
        log_group = logs.LogGroup(
            self, f"{name}FunctionLogs", retention=logs.RetentionDays.ONE_MONTH
        )
        role = iam.Role(
            self,
            f"{name}FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"recs {spec.name} function: only what functions/{spec.module}.py needs",
        )
        log_group.grant_write(role)
        fn = lambda_.Function(
            self,
            f"{name}Function",
            description=f"recs {spec.name} (functions/{spec.module}.py)",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[self.settings.arch],
            code=code,
            handler=f"{spec.module}.handler",
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            layers=[self.layers[layer] for layer in spec.layers],
            role=role,
            log_group=log_group,
            # X-Ray is off across the stack (functions, API stage, state machine): no handler
            # records subsegments, and Powertools' Tracer would cost the API's cold start about
            # 110 ms of imports (aws_xray_sdk) against a 300 ms budget it already spends.
            # Errors and latency show in the JSON logs and infra/constructs_monitoring.py.
            tracing=lambda_.Tracing.DISABLED,
            environment={
                **{var: resource_env[var] for var in spec.env},
                **resources.function_settings(spec),
                **self.settings.recs_config,
                "POWERTOOLS_SERVICE_NAME": resources.SERVICE,
                "LOG_LEVEL": self.settings.log_level,
            },
        )
        acknowledge(
            fn,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name} on purpose: layers/build_layers.py builds the layers' "
            f"binary wheels (numpy, scipy, pyarrow, pydantic-core) for CPython "
            f"{RUNTIME.name.removeprefix('python')}; both move together.",
        )
        return fn

    def _grant_access(self) -> None:
        """Exactly the tables of ``infra.access``: per table, the actions the code calls."""
        for name, tables in DYNAMODB_ACTIONS.items():
            for logical_id, actions in tables.items():
                self.tables[logical_id].grant(
                    self.functions[name], *dynamodb_iam_actions(logical_id, actions)
                )
        bucket_arn = arn_ref(self.bucket)
        for name, prefixes in BUCKET_READ.items():
            role = self.functions[name].role
            assert role is not None
            for prefix in prefixes:
                self.bucket.grant_read(role, prefix)
                self._acknowledge_prefix(role, bucket_arn, prefix, "read")
            for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*"):
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Action::{action}]",
                    f"grant_read's read-only S3 action group, limited to this bucket and the "
                    f"prefixes {list(prefixes)} (listing needs the bucket itself).",
                )
        for name, prefixes in BUCKET_WRITE.items():
            role = self.functions[name].role
            assert role is not None
            for prefix in prefixes:
                self.bucket.grant_put(role, prefix)
                self._acknowledge_prefix(role, bucket_arn, prefix, "write")
            acknowledge(
                role,
                "AwsSolutions-IAM5[Action::s3:Abort*]",
                f"grant_put's s3:AbortMultipartUpload, for large uploads under {list(prefixes)}.",
            )
        for name in QUEUE_SEND:
            self.queue.grant_send_messages(self.functions[name])
        for name in DEAD_LETTER_DEPTH:
            self.dead_letter_queue.grant(self.functions[name], "sqs:GetQueueAttributes")

    @staticmethod
    def _acknowledge_prefix(role: iam.IRole, bucket_arn: str, prefix: str, verb: str) -> None:
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}]",
            f"The function may {verb} only objects under the '{prefix[:-1]}' prefix of the data "
            "bucket; keys below it are dated or versioned and not known in advance.",
        )

    # --- nightly batch ----------------------------------------------------------------------

    def _state_machine(self) -> sfn.StateMachine:
        batch = [self.functions[spec.name] for spec in resources.BATCH_STEPS]
        definition = build_definition(
            {spec.name: self.functions[spec.name].function_arn for spec in resources.BATCH_STEPS},
            self.spark.job(),
        )
        log_group = logs.LogGroup(
            self,
            "NightlyBatchLogs",
            log_group_name=f"/aws/vendedlogs/states/{resources.STATE_MACHINE_NAME}",
            retention=logs.RetentionDays.THREE_MONTHS,
        )
        machine = sfn.StateMachine(
            self,
            "NightlyBatch",
            state_machine_name=resources.STATE_MACHINE_NAME,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition)),
            timeout=Duration.hours(3),
            tracing_enabled=False,  # X-Ray is off: see _function
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        # The definition invokes the unqualified function ARNs, so exactly those.
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in batch]
            )
        )
        self.spark.grant_run(machine.role, resources.STATE_MACHINE_NAME)
        acknowledge(
            machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery and related) does not "
            "support resource-level permissions.",
        )
        acknowledge(
            machine,
            "AwsSolutions-SF2",
            "X-Ray is off across the stack: no function records subsegments and Powertools' "
            "Tracer would add about 110 ms to the API's cold start; every execution's steps, "
            "inputs and outputs are in the state machine's log group (level ALL).",
        )
        return machine

    def _schedule(self) -> scheduler.Schedule:
        role = iam.Role(
            self,
            "NightlyScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="EventBridge Scheduler: start the recs nightly batch",
        )
        timezone = (
            TimeZone.ETC_UTC
            if self.settings.schedule_timezone.upper() in ("UTC", "ETC/UTC")
            else TimeZone.of(self.settings.schedule_timezone)
        )
        return scheduler.Schedule(
            self,
            "NightlySchedule",
            description="recs: run the nightly batch",
            schedule=scheduler.ScheduleExpression.expression(self.settings.schedule, timezone),
            target=targets.StepFunctionsStartExecution(
                self.state_machine,
                role=role,
                # as_of: the scheduled time, so a retried delivery trains on the same window.
                input=scheduler.ScheduleTargetInput.from_object(
                    {"as_of": scheduler.ContextAttribute.scheduled_time}
                ),
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            ),
        )

    # --- outputs ----------------------------------------------------------------------------

    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="API base URL")
        CfnOutput(
            self,
            "ApiKeyId",
            value=self.api.api_key.key_id,
            description="The server key: aws apigateway get-api-key --include-value --api-key <id>",
        )
        CfnOutput(
            self,
            "StorefrontKeyId",
            value=self.api.storefront_key.key_id,
            description="The storefront key (public; in the storefront's config.json)",
        )
        CfnOutput(
            self,
            "ShopperTokenSecretArn",
            value=self.api.shopper_secret.secret_arn,
            description="The secret the shop's backend signs shopper tokens with",
        )
        CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        CfnOutput(self, "QueueUrl", value=self.queue.queue_url)
        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        for spec in resources.TABLES:
            CfnOutput(self, f"{spec.logical_id}Name", value=self.tables[spec.logical_id].table_name)
        if not self.settings.require_api_key:
            Annotations.of(self).add_warning_v2(
                "recs:no-api-key", "require_api_key is false: the API is open to anyone"
            )
