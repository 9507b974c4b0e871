"""Every S3 key a function really touches lies under a prefix the CDK app grants it.

The functions' code runs here in-process on the sample shop (catalog, ingest, lander, then
the nightly steps twice, so the second run's evaluation reads the live model), each with an
object store that records the keys it reads, lists and writes. A step that writes or reads
somewhere new without a matching grant in infra/stack.py fails here rather than with
AccessDenied in the cloud. No synthesis: the grants are infra.access's tables, which the stack
grants from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infra.access import BUCKET_READ, BUCKET_WRITE
from recs.batch.config import BatchConfig
from recs.batch.steps.attribution import attribution_step
from recs.batch.steps.evaluate import evaluate_step
from recs.batch.steps.export import export_step
from recs.batch.steps.export_parts import export_finish, export_part, export_start
from recs.batch.steps.promote import promote_step
from recs.batch.steps.train import train_step
from recs.batch.steps.weight import weight_step
from recs.contracts import layout, resources
from recs.contracts.state import BatchState
from recs.intake import catalog
from recs.intake.ingest import ingest
from recs.intake.landing import land_messages
from recs.stores.memory import (
    MemoryEventQueue,
    MemoryExperimentStore,
    MemoryModelRegistry,
    MemoryObjectStore,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
)
from recs_local import sample_data
from tests.unit.test_spark_steps import spark_job, with_parts

END = datetime(2026, 11, 23, 12, tzinfo=UTC)


class Recording:
    """One function's view of the shared bucket, noting every key it touches."""

    def __init__(self, bucket: MemoryObjectStore) -> None:
        self.bucket = bucket
        self.reads: set[str] = set()
        self.writes: set[str] = set()

    def put(self, key: str, body: bytes) -> None:
        self.writes.add(key)
        self.bucket.put(key, body)

    def get(self, key: str) -> bytes:
        self.reads.add(key)
        return self.bucket.get(key)

    def list(self, prefix: str) -> list[str]:
        self.reads.add(prefix)
        return self.bucket.list(prefix)

    def tail(self, key: str, size: int) -> tuple[bytes, int]:
        self.reads.add(key)
        return self.bucket.tail(key, size)

    def span(self, key: str, start: int, size: int) -> bytes:
        self.reads.add(key)
        return self.bucket.span(key, start, size)


def _granted(key: str, patterns: tuple[str, ...]) -> bool:
    return any(key.startswith(pattern.removesuffix("*")) for pattern in patterns)


@pytest.fixture(scope="module")
def touched() -> Iterator[dict[str, Recording]]:
    bucket = MemoryObjectStore()
    recorders: dict[str, Recording] = {}

    def store(function: str) -> Recording:
        return recorders.setdefault(function, Recording(bucket))

    now = int(END.timestamp() * 1000)
    items = catalog.validate_items(sample_data.catalog_items(END), now).accepted
    catalog.apply(items, store(resources.INGEST.name), MemoryRealtimeStore(), now)
    queue = MemoryEventQueue()
    ingest(sample_data.generate(users=120, days=10, end=END), queue, None, now)
    # One poison message among them: the lander files it under events-rejected/.
    messages = [(f"m-{n}", body) for n, body in enumerate([*queue.messages, "not json"])]
    landing = land_messages(messages, store(resources.LANDER.name), now)
    assert [r.message_id for r in landing.refused] == [f"m-{len(queue.messages)}"]

    config = BatchConfig(tuning_seconds=1.0, training_window_days=30)
    registry = MemoryModelRegistry()
    for day in (END.date(), END.date() + timedelta(days=1)):
        state: BatchState = {"as_of": day.isoformat()}
        state = weight_step(state, store(resources.WEIGHT.name), config)
        assert state["counts"]["events"] >= 1_000  # enough for the tuning branch to run
        state = train_step(state, store(resources.TRAIN.name), config)
        assert "params" in state["tuning"]  # tuned: train read the window's events too
        state = evaluate_step(state, store(resources.EVALUATE.name), registry, config)
        state = export_step(state, store(resources.EXPORT.name), MemoryRecommendationStore(),
                            registry, config)
        state = promote_step(state, registry)
        assert state["promoted"] is True
        state = attribution_step(state, store(resources.ATTRIBUTION.name),
                                 MemoryExperimentStore())
        assert state["attribution"]["files"] >= 1  # the last eight days' events
    assert "live" in json.dumps(state["metrics"])  # the second evaluation read live's model
    # A third night on the Spark engine: the job's outputs (stood in for by the last night's
    # model, as tests/unit/test_spark_steps.py does) go straight to the bucket, under the job
    # role's grants; the Lambda steps' phases read them through their own recorders.
    spark = BatchConfig(tuning_seconds=1.0, training_window_days=30, engine="spark")
    spark_state: BatchState = {"as_of": (END.date() + timedelta(days=2)).isoformat()}
    spark_state = weight_step(spark_state, store(resources.WEIGHT.name), spark)
    spark_job(bucket, spark_state, state, bucket)
    spark_state = train_step(spark_state, store(resources.TRAIN.name), spark)
    spark_state = evaluate_step(spark_state, store(resources.EVALUATE.name), registry, spark)
    table = MemoryRecommendationStore()
    spark_state = export_start(spark_state, store(resources.EXPORT.name), table, registry, spark)
    parts = [export_part(spark_state["version"], key, store(resources.EXPORT.name), table)
             for key in bucket.list(spark_state["rows_prefix"])]
    spark_state = export_finish(with_parts(spark_state, parts), table, registry, spark)
    assert promote_step(spark_state, registry)["promoted"] is True
    yield recorders


def test_each_function_writes_only_under_its_granted_prefixes(
        touched: dict[str, Recording]) -> None:
    for function, recording in touched.items():
        assert recording.writes or recording.reads, function
        refused = {k for k in recording.writes if not _granted(k, BUCKET_WRITE.get(function, ()))}
        assert not refused, (function, refused)


def test_each_function_reads_only_under_its_granted_prefixes(
        touched: dict[str, Recording]) -> None:
    for function, recording in touched.items():
        refused = {k for k in recording.reads if not _granted(k, BUCKET_READ.get(function, ()))}
        assert not refused, (function, refused)


def test_the_grants_are_exactly_what_the_functions_use(touched: dict[str, Recording]) -> None:
    """No grant is wider than needed: each granted prefix is used by its function."""
    for grants, used in ((BUCKET_WRITE, "writes"), (BUCKET_READ, "reads")):
        for function, patterns in grants.items():
            keys = getattr(touched[function], used)
            for pattern in patterns:
                assert pattern.removesuffix("*") in layout.PREFIXES
                assert any(_granted(k, (pattern,)) for k in keys), (function, used, pattern)
