"""Build the AWS adapters from the environment a function was deployed with.

Handlers call these once at cold start; tests and the local demo set the same variables
(pointing boto3 at moto through ``AWS_ENDPOINT_URL``), so every path uses the same wiring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from recs.contracts import access, resources
from recs.exceptions import ConfigError
from recs.stores.aws import (
    EXPORT_CONFIG,
    READ_BUDGET_S,
    REQUEST_CONFIG,
    WRITE_WORKERS,
    DynamoModelRegistry,
    DynamoRealtimeStore,
    DynamoRecommendationStore,
    DynamoServingReader,
    S3ObjectStore,
    SqsEventQueue,
    read_path_config,
)
from recs.stores.dynamo_experiments import DynamoExperimentStore
from recs.stores.dynamo_ops import DynamoOpsStore, SqsQueueDepth
from recs.stores.secrets import SecretsManagerSecret, StaticSecret


def object_store() -> S3ObjectStore:
    return S3ObjectStore(required_env(resources.BUCKET_ENV))


def event_queue() -> SqsEventQueue:
    return SqsEventQueue(required_env(resources.QUEUE_ENV))


def dynamodb_client(*, batch: bool = False, read_budget_s: float | None = None) -> Any:
    """One DynamoDB client for every store of a function: each extra client costs the cold
    start about 35 ms (``benchmarks/serving.py``), and a client is safe to share. The batch's
    is configured for the export's concurrent writes; the read path's (``read_budget_s``) has
    timeouts sized to its budget and no SDK retries (``recs.stores.aws.read_path_config``)."""
    import boto3

    if read_budget_s is not None:
        return boto3.client("dynamodb", config=read_path_config(read_budget_s))
    return boto3.client("dynamodb", config=EXPORT_CONFIG if batch else REQUEST_CONFIG)


def recommendation_store(client: Any = None, *, batch: bool = False) -> DynamoRecommendationStore:
    """The batch's store writes ``WRITE_WORKERS`` batches at once; the admin's, one."""
    table = required_env(resources.RECOMMENDATIONS.env_var)
    return DynamoRecommendationStore(table, client or dynamodb_client(batch=batch),
                                     WRITE_WORKERS if batch else 1)


def model_registry(client: Any = None) -> DynamoModelRegistry:
    return DynamoModelRegistry(required_env(resources.REGISTRY.env_var), client)


def experiment_store(client: Any = None) -> DynamoExperimentStore:
    return DynamoExperimentStore(required_env(resources.EXPERIMENTS.env_var), client)


def ops_store(client: Any = None) -> DynamoOpsStore:
    """The operator console's daily rows, in the experiments table."""
    return DynamoOpsStore(required_env(resources.EXPERIMENTS.env_var), client)


def dead_letter_queue() -> SqsQueueDepth:
    return SqsQueueDepth(required_env(resources.DLQ_ENV))


def realtime_store(client: Any = None) -> DynamoRealtimeStore:
    return DynamoRealtimeStore(required_env(resources.REALTIME.env_var), client)


def serving_reader(client: Any = None, budget_s: float = READ_BUDGET_S) -> DynamoServingReader:
    """``client`` should come from ``dynamodb_client(read_budget_s=budget_s)``."""
    return DynamoServingReader(required_env(resources.RECOMMENDATIONS.env_var),
                               required_env(resources.REALTIME.env_var), client, budget_s)


def shopper_token_secret(
        environ: Mapping[str, str] | None = None) -> StaticSecret | SecretsManagerSecret | None:
    """The secret shopper tokens are signed with: its value from the environment (local), or
    the Secrets Manager secret it names (cloud), read on the first token and not at cold
    start; None where no secret is configured (then no token is valid)."""
    env = os.environ if environ is None else environ
    if env.get(access.SHOPPER_SECRET_ENV):
        return StaticSecret(env[access.SHOPPER_SECRET_ENV])
    if env.get(access.SHOPPER_SECRET_ARN_ENV):
        return SecretsManagerSecret(env[access.SHOPPER_SECRET_ARN_ENV])
    return None


def required_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A resource name the deployment must provide; a clear error when it does not."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value
