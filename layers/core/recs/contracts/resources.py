"""The AWS resources the product is made of, described once.

The CDK app builds its tables, bucket, queues and functions from these specs, and the local
demo creates the same things in moto from them, so the cloud and the laptop cannot drift.
Names reach the functions through the environment variables named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: its keys (strings), optional TTL attribute and env variable."""

    logical_id: str
    env_var: str
    local_name: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: the handler module under ``functions/`` and what it needs."""

    name: str
    module: str
    layers: tuple[str, ...] = ()
    memory_mb: int = 512
    timeout_s: int = 30
    env: tuple[str, ...] = field(default_factory=tuple)


RECOMMENDATIONS = TableSpec(
    logical_id="RecommendationsTable",
    env_var="RECS_RECOMMENDATIONS_TABLE",
    local_name="recs-recommendations",
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expires_at",
)
REGISTRY = TableSpec(
    logical_id="RegistryTable",
    env_var="RECS_REGISTRY_TABLE",
    local_name="recs-registry",
    partition_key="pk",
    sort_key="sk",
)
REALTIME = TableSpec(
    logical_id="RealtimeTable",
    env_var="RECS_REALTIME_TABLE",
    local_name="recs-realtime",
    partition_key="pk",
    ttl_attribute="expires_at",
)
EXPERIMENTS = TableSpec(
    logical_id="ExperimentsTable",
    env_var="RECS_EXPERIMENTS_TABLE",
    local_name="recs-experiments",
    partition_key="pk",
    sort_key="sk",
)
TABLES = (RECOMMENDATIONS, REGISTRY, REALTIME, EXPERIMENTS)

BUCKET_ENV = "RECS_BUCKET"
LOCAL_BUCKET = "recs-data"
QUEUE_ENV = "RECS_QUEUE_URL"
LOCAL_QUEUE = "recs-events"
LOCAL_DLQ = "recs-events-dlq"
# The dead-letter queue's URL, for the operator console's count of dead-lettered messages.
DLQ_ENV = "RECS_DEAD_LETTER_QUEUE_URL"
STATE_MACHINE_NAME = "recs-nightly-batch"
# The Spark engine's EMR Serverless application (infra/constructs_spark.py; the local cloud
# makes one in moto), and the EMR release it runs unless CDK context says otherwise.
SPARK_APPLICATION_NAME = "recs-nightly-spark"
SPARK_RELEASE_LABEL = "emr-7.12.0"

# Every function's POWERTOOLS_SERVICE_NAME: the service its logs name and, with Powertools
# Metrics, the one dimension of each metric it emits.
SERVICE = "recs"
# CloudWatch metrics (embedded metric format) the batch emits and the CDK app alarms on.
METRICS_NAMESPACE = "recs"
UNREADABLE_INPUTS_METRIC = "UnreadableInputs"  # input files a nightly run skipped
MODEL_PROMOTED_METRIC = "ModelPromoted"  # 1 when the promote step made a new version live

# Layer names: "core" is the recs package itself; "arrow" is pyarrow+numpy; "batch" is
# pyarrow+numpy+scipy.sparse (trimmed to fit). Each function carries only what it imports.
API = FunctionSpec("api", "api", ("core",), memory_mb=1024, timeout_s=10,
                   env=(RECOMMENDATIONS.env_var, REGISTRY.env_var, REALTIME.env_var,
                        EXPERIMENTS.env_var))
INGEST = FunctionSpec("ingest", "ingest", ("core",), memory_mb=512, timeout_s=10,
                      env=(QUEUE_ENV, REALTIME.env_var, BUCKET_ENV, EXPERIMENTS.env_var))
LANDER = FunctionSpec("lander", "lander", ("core", "arrow"), memory_mb=1024, timeout_s=120,
                      env=(BUCKET_ENV, EXPERIMENTS.env_var))
# The nightly steps' memory holds the largest window the Lambda path takes (BatchConfig's
# spark_min_events, 30 M events) with a quarter to spare, extrapolated from their peaks at
# 20 M events (benchmarks/results/training-20000000*.md; tests/unit/test_step_sizing.py), and
# is at least 3,584 MB: two vCPUs, the cores they were measured (and use threads) on.
WEIGHT = FunctionSpec("weight", "weight", ("core", "arrow"), memory_mb=3712, timeout_s=900,
                      env=(BUCKET_ENV,))
TRAIN = FunctionSpec("train", "train", ("core", "batch"), memory_mb=3904, timeout_s=900,
                     env=(BUCKET_ENV,))
EVALUATE = FunctionSpec("evaluate", "evaluate", ("core", "batch"), memory_mb=3584,
                        timeout_s=900, env=(BUCKET_ENV, REGISTRY.env_var))
EXPORT = FunctionSpec("export", "export", ("core", "batch"), memory_mb=3584, timeout_s=900,
                      env=(BUCKET_ENV, RECOMMENDATIONS.env_var, REGISTRY.env_var))
PROMOTE = FunctionSpec("promote", "promote", ("core",), memory_mb=256, timeout_s=60,
                       env=(REGISTRY.env_var,))
ADMIN = FunctionSpec("admin", "admin", ("core",), memory_mb=256, timeout_s=30,
                     env=(REGISTRY.env_var, RECOMMENDATIONS.env_var, EXPERIMENTS.env_var,
                          DLQ_ENV))
# The nightly recount of experiments and the live CTR's change, after promote: it reads only
# the events that carry a recommendation id (recs.batch.attribution).
ATTRIBUTION = FunctionSpec("attribution", "attribution", ("core", "arrow"), memory_mb=2048,
                           timeout_s=900, env=(BUCKET_ENV, EXPERIMENTS.env_var))
FUNCTIONS = (API, INGEST, LANDER, WEIGHT, TRAIN, EVALUATE, EXPORT, PROMOTE, ADMIN, ATTRIBUTION)

LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives a function one vCPU per 1,769 MB of memory (up to six)."""


def vcpus(memory_mb: int) -> int:
    """Whole vCPUs a function of ``memory_mb`` has (at least one)."""
    return max(1, min(6, memory_mb // LAMBDA_MB_PER_VCPU))


def function_settings(spec: FunctionSpec) -> dict[str, str]:
    """Settings the stack gives a function beside its resources' names: the export makes and
    writes its rows in a process per vCPU (a shop's ``recs_config`` may still set it)."""
    return {"RECS_EXPORT_PROCESSES": str(vcpus(spec.memory_mb))} if spec is EXPORT else {}
BATCH_STEPS = (WEIGHT, TRAIN, EVALUATE, EXPORT, PROMOTE, ATTRIBUTION)
