"""The Spark engine: an EMR Serverless application, the job's role and code, and what the
state machine needs to run it (``recs.batch.pipeline.SparkJob``).

CDK context (``-c key=value`` or ``cdk.json``), all optional:

=========================  ===================  =================================================
key                        default              meaning
=========================  ===================  =================================================
``emr_release_label``      ``emr-7.12.0``       the EMR release (Spark 3.5, Amazon Linux 2023)
``emr_max_vcpu``           ``100``              the application's maximum capacity: vCPUs,
``emr_max_memory_gb``      ``400``              memory and disk across the driver and every
``emr_max_disk_gb``        ``2000``             executor (a job asking more waits)
``emr_idle_minutes``       ``15``               stop the application after this long idle
``emr_python_archive``     (none)               ``s3://bucket/key.tar.gz``: a virtualenv
                                                archive with Python 3.11, numpy, scipy and
                                                pyarrow (docs/architecture.md says how to
                                                build one once)
``emr_image_uri``          (none)               or a custom image with them (ECR URI)
``export_concurrency``     ``10``               row files the export writes at once
=========================  ===================  =================================================

The job's code goes up as two S3 assets, with no Docker and no network: the entry script
(``infra/spark/job_entry.py``) and one zip of the ``recs`` and ``recs_spark`` packages'
sources (``--py-files``), written here at synthesis, byte for byte the same for the same
sources (fixed times and order), so its asset hash changes only with the code. The Python
packages the job imports with C extensions (numpy, scipy, pyarrow) cannot be zipped that
way: they come from ``emr_python_archive`` or ``emr_image_uri``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, ArnFormat, Aws, Stack
from aws_cdk import aws_emrserverless as emrserverless
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from infra.access import SPARK_JOB_READ, SPARK_JOB_WRITE
from infra.constructs_layers import REPO_ROOT
from infra.constructs_nag import acknowledge, arn_ref
from recs.batch.config import BatchConfig
from recs.batch.pipeline import DEFAULT_EXPORT_CONCURRENCY, MAX_EXPORT_CONCURRENCY, SparkJob
from recs.contracts import layout, resources
from recs.exceptions import ConfigError

ENTRY_SCRIPT = REPO_ROOT / "infra" / "spark" / "job_entry.py"
PACKAGE_SOURCES = (REPO_ROOT / "layers" / "core" / "recs", REPO_ROOT / "recs_spark")
PACKAGES_ZIP = REPO_ROOT / "build" / "spark" / "recs-packages.zip"
APPLICATION_NAME = resources.SPARK_APPLICATION_NAME
# The rule Step Functions manages to learn that a startJobRun.sync job run ended.
SYNC_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry: no build time in it


@dataclass(frozen=True)
class SparkSettings:
    """The Spark engine's knobs, read from CDK context (see the module docstring)."""

    emr_release_label: str = resources.SPARK_RELEASE_LABEL
    emr_max_vcpu: int = 100
    emr_max_memory_gb: int = 400
    emr_max_disk_gb: int = 2000
    emr_idle_minutes: int = 15
    emr_python_archive: str = ""
    emr_image_uri: str = ""
    export_concurrency: int = DEFAULT_EXPORT_CONCURRENCY

    @classmethod
    def from_context(cls, scope: Construct) -> SparkSettings:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = scope.node.try_get_context(f.name)
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(str(raw).strip())
                except ValueError as exc:
                    raise ConfigError(f"context {f.name}: expected a whole number, "
                                      f"got {raw!r}") from exc
            else:
                values[f.name] = str(raw).strip()
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        for name in ("emr_max_vcpu", "emr_max_memory_gb", "emr_max_disk_gb",
                     "emr_idle_minutes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"context {name}: must be >= 1")
        if not 1 <= self.export_concurrency <= MAX_EXPORT_CONCURRENCY:
            raise ConfigError(f"context export_concurrency: must lie in "
                              f"[1, {MAX_EXPORT_CONCURRENCY}]")
        if self.emr_python_archive and not (self.emr_python_archive.startswith("s3://")
                                            and "/" in self.emr_python_archive[5:]):
            raise ConfigError("context emr_python_archive: expected s3://bucket/key")
        if not self.emr_release_label.startswith("emr-"):
            raise ConfigError("context emr_release_label: expected a label like emr-7.12.0")


def package_zip(sources: tuple[Path, ...] = PACKAGE_SOURCES, out: Path = PACKAGES_ZIP) -> Path:
    """The packages' ``.py`` files as one zip, each under its package's directory name, in
    sorted order with fixed times: the same sources give the same bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sources:
            if not source.is_dir():
                raise ConfigError(f"the Spark job's package {source.name} is missing "
                                  f"({source})")
            for path in sorted(source.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                name = path.relative_to(source.parent).as_posix()
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    if out.exists() and out.read_bytes() == temporary.read_bytes():
        temporary.unlink()  # unchanged: keep the file (and its time) as it was
    else:
        temporary.replace(out)
    return out


def _s3_object_arn(uri: str) -> str:
    bucket, key = uri[len("s3://"):].split("/", 1)
    return f"arn:{Aws.PARTITION}:s3:::{bucket}/{key.split('#', 1)[0]}"


class RecsSpark(Construct):
    """The EMR Serverless application, the job's execution role and code assets; ``job``
    is what ``recs.batch.pipeline.build_definition`` needs, ``grant_run`` gives a state
    machine what running it needs."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.Bucket,
                 recs_config: Mapping[str, str], settings: SparkSettings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.bucket = bucket
        self.application = emrserverless.CfnApplication(
            self,
            "Application",
            name=APPLICATION_NAME,
            type="SPARK",
            release_label=settings.emr_release_label,
            architecture="ARM64",
            auto_start_configuration=emrserverless.CfnApplication.AutoStartConfigurationProperty(
                enabled=True),
            auto_stop_configuration=emrserverless.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=settings.emr_idle_minutes),
            maximum_capacity=emrserverless.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=f"{settings.emr_max_vcpu} vCPU",
                memory=f"{settings.emr_max_memory_gb} GB",
                disk=f"{settings.emr_max_disk_gb} GB"),
            image_configuration=(
                emrserverless.CfnApplication.ImageConfigurationInputProperty(
                    image_uri=settings.emr_image_uri) if settings.emr_image_uri else None),
        )
        self.application_arn = Stack.of(self).format_arn(
            service="emr-serverless", resource="/applications",
            resource_name=self.application.attr_application_id,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal(
                "emr-serverless.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                            "ArnLike": {"aws:SourceArn": self.application_arn}}),
            description="recs Spark job on EMR Serverless: the data bucket's prefixes it "
                        "reads and writes, its code, nothing else",
        )
        bucket_arn = arn_ref(bucket)
        for prefix in SPARK_JOB_READ:
            bucket.grant_read(self.job_role, prefix)
            self._acknowledge_prefix(bucket_arn, prefix, "read")
        for prefix in SPARK_JOB_WRITE:
            bucket.grant_put(self.job_role, prefix)
            self._acknowledge_prefix(bucket_arn, prefix, "write")
        for action, why in (("s3:GetObject*", "read"), ("s3:GetBucket*", "read"),
                            ("s3:List*", "list"), ("s3:Abort*", "abort large uploads")):
            acknowledge(self.job_role, f"AwsSolutions-IAM5[Action::{action}]",
                        f"The CDK grant's S3 action group ({why}), limited to the data bucket's "
                        f"prefixes {sorted({*SPARK_JOB_READ, *SPARK_JOB_WRITE})}.")

        self.entry_point = s3_assets.Asset(self, "JobScript", path=str(ENTRY_SCRIPT))
        self.packages = s3_assets.Asset(self, "JobPackages", path=str(package_zip()))
        # Exactly the two objects (Asset.grant_read would give the whole assets bucket).
        self.job_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
                       for asset in (self.entry_point, self.packages)]))
        if settings.emr_python_archive:
            self.job_role.add_to_policy(iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[_s3_object_arn(settings.emr_python_archive)]))
        elif not settings.emr_image_uri:
            Annotations.of(self).add_warning_v2(
                "recs:spark-python",
                "Neither emr_python_archive nor emr_image_uri is set: the Spark job would run "
                "the release's own Python, without numpy, scipy and pyarrow. Build one once "
                "(docs/architecture.md, 'The Spark engine') before a window reaches "
                "RECS_SPARK_MIN_EVENTS, or set RECS_ENGINE=lambda.")
        self.environment = spark_environment(recs_config)

    def _acknowledge_prefix(self, bucket_arn: str, prefix: str, verb: str) -> None:
        acknowledge(
            self.job_role,
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}]",
            f"The Spark job may {verb} only objects under the '{prefix[:-1]}' prefix of the "
            "data bucket; keys below it are dated or versioned and not known in advance.",
        )

    def job(self) -> SparkJob:
        """The Spark task's parameters for ``build_definition``."""
        return SparkJob(
            application_id=self.application.attr_application_id,
            execution_role_arn=self.job_role.role_arn,
            bucket=self.bucket.bucket_name,
            entry_point=self.entry_point.s3_object_url,
            py_files=self.packages.s3_object_url,
            environment=self.environment,
            python_archive=self.settings.emr_python_archive,
            export_concurrency=self.settings.export_concurrency,
        )

    def grant_run(self, role: iam.IRole, state_machine_name: str) -> None:
        """What a state machine running ``build_definition``'s Spark path needs beyond its
        Lambda invokes: start, watch and cancel job runs on this application (and pass them
        the job's role), the EventBridge rule Step Functions manages for ``.sync``, starting
        the Distributed Map's child executions of itself, and listing the row files."""
        stack = Stack.of(self)
        statements = [
            iam.PolicyStatement(actions=["emr-serverless:StartJobRun"],
                                resources=[self.application_arn]),
            iam.PolicyStatement(actions=["emr-serverless:GetJobRun",
                                         "emr-serverless:CancelJobRun"],
                                resources=[f"{self.application_arn}/jobruns/*"]),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule",
                                            resource_name=SYNC_RULE)]),
            iam.PolicyStatement(
                actions=["iam:PassRole"], resources=[self.job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService":
                                             "emr-serverless.amazonaws.com"}}),
            # The machine's own ARN from its fixed name: a reference to the machine would
            # make its role's policy and the machine depend on each other.
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[stack.format_arn(service="states", resource="stateMachine",
                                            resource_name=state_machine_name,
                                            arn_format=ArnFormat.COLON_RESOURCE_NAME)]),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[stack.format_arn(service="states", resource="execution",
                                            resource_name=f"{state_machine_name}/*",
                                            arn_format=ArnFormat.COLON_RESOURCE_NAME)]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [layout.iam_prefix(layout.MODELS)]}}),
        ]
        policy = iam.Policy(self, "RunPolicy", statements=statements, roles=[role])
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{self._logical_id()}."
                    "Arn>/jobruns/*]", "Job run ids are made when a run starts.")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:emr-serverless:"
                    f"<AWS::Region>:<AWS::AccountId>:/applications/<{self._logical_id()}."
                    "ApplicationId>/jobruns/*]", "Job run ids are made when a run starts.")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:"
                    f"<AWS::Region>:<AWS::AccountId>:execution:{state_machine_name}/*]",
                    "The Distributed Map's child executions are named when they start.")
        self.run_policy = policy

    def _logical_id(self) -> str:
        return str(Stack.of(self).resolve(self.application.logical_id))


def spark_environment(recs_config: Mapping[str, str]) -> dict[str, str]:
    """The ``RECS_*`` batch settings of the deployment's ``recs_config``: the job's env."""
    known = {f"RECS_{f.name.upper()}" for f in fields(BatchConfig)}
    return {name: value for name, value in recs_config.items() if name in known}

