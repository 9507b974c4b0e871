"""Build the AWS adapters from the environment a function was deployed with.

Handlers call these once at cold start; tests and the local demo set the same variables
(pointing boto3 at moto through ``AWS_ENDPOINT_URL``), so every path uses the same wiring.
"""

from __future__ import annotations

from recs import resources
from recs.config import required_env
from recs.stores.aws import (
    BATCH_CONFIG,
    DynamoModelRegistry,
    DynamoRealtimeStore,
    DynamoRecommendationStore,
    DynamoServingReader,
    S3ObjectStore,
    SqsEventQueue,
)


def object_store() -> S3ObjectStore:
    return S3ObjectStore(required_env(resources.BUCKET_ENV))


def event_queue() -> SqsEventQueue:
    return SqsEventQueue(required_env(resources.QUEUE_ENV))


def recommendation_store(*, batch: bool = False) -> DynamoRecommendationStore:
    table = required_env(resources.RECOMMENDATIONS.env_var)
    if batch:
        import boto3

        return DynamoRecommendationStore(table, boto3.client("dynamodb", config=BATCH_CONFIG))
    return DynamoRecommendationStore(table)


def model_registry() -> DynamoModelRegistry:
    return DynamoModelRegistry(required_env(resources.REGISTRY.env_var))


def realtime_store() -> DynamoRealtimeStore:
    return DynamoRealtimeStore(required_env(resources.REALTIME.env_var))


def serving_reader() -> DynamoServingReader:
    return DynamoServingReader(required_env(resources.RECOMMENDATIONS.env_var),
                               required_env(resources.REALTIME.env_var))
