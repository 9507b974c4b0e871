"""The Lambda steps' side of the Spark engine, on in-memory stores.

The Spark job's own outputs are stood in for by the single-node code's: its model, its
shadow and its rows written as row files (``recs.formats.row_files``), which is what the job
writes by contract. Each phase is then held to what the Lambda path does with the same
model: the same rows in the table, the same counts for promote, the same gate.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pyarrow.parquet as pq
import pytest

from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.pipeline import EXPORT_PARTS_PATH
from recs.batch.steps import evaluate as evaluate_module
from recs.batch.steps import weight as weight_module
from recs.batch.steps.evaluate import evaluate_step
from recs.batch.steps.export import export_rows, export_step
from recs.batch.steps.export_parts import export_finish, export_part, export_start
from recs.batch.steps.promote import promote_step
from recs.batch.steps.train import train_step
from recs.batch.steps.weight import weight_step
from recs.batch.window import read_listed
from recs.contracts import layout
from recs.contracts.state import BatchState, SparkManifest
from recs.exceptions import SparkOutputError
from recs.formats import row_files
from recs.intake.ingest import ingest
from recs.intake.landing import land, parse_message
from recs.stores.memory import (
    MemoryEventQueue,
    MemoryModelRegistry,
    MemoryObjectStore,
    MemoryRecommendationStore,
)
from recs_local import sample_data

END = datetime(2026, 11, 23, 12, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 4, tzinfo=UTC)
AS_OF = "2026-11-24"
LAMBDA = BatchConfig(tuning_seconds=0, training_window_days=30, engine="lambda")
SPARK = BatchConfig(tuning_seconds=0, training_window_days=30, engine="spark")
PARTS = 3  # row files the stand-in job writes


def landed() -> MemoryObjectStore:
    objects, queue = MemoryObjectStore(), MemoryEventQueue()
    ingest(sample_data.generate(users=80, days=10, end=END), queue, None,
           int(END.timestamp() * 1000))
    land([parse_message(body) for body in queue.messages], objects)
    return objects


@pytest.fixture(scope="module")
def lambda_run() -> tuple[MemoryObjectStore, BatchState]:
    """The Lambda path's weight and train: what the stand-in job's outputs are made of."""
    objects = landed()
    state = train_step(weight_step({"as_of": AS_OF}, objects, LAMBDA), objects, LAMBDA)
    return objects, state


def spark_job(objects: MemoryObjectStore, spark_state: BatchState,
              lambda_state: BatchState, source: MemoryObjectStore) -> SparkManifest:
    """Write what ``recs_spark.job`` writes for the version, from the Lambda path's model."""
    version = spark_state["version"]
    model_blob = source.get(lambda_state["model_key"])
    objects.put(layout.model(version), model_blob)
    objects.put(layout.shadow_model(version), model_blob)
    objects.put(layout.params(version), source.get(lambda_state["params_key"]))
    # The job's sample of the window: here all of it (what the Lambda path read).
    sample = io.BytesIO()
    pq.write_table(read_listed(source, lambda_state["window_key"]), sample, compression="zstd")
    objects.put(layout.window_events(version), sample.getvalue())
    catalog = json.loads(objects.get(spark_state["catalog_key"]))
    rows = list(export_rows(Model.from_bytes(model_blob), version, 0, catalog))
    for part in range(PARTS):
        objects.put(layout.row_file(version, part), row_files.to_bytes(rows[part::PARTS]))
    manifest: SparkManifest = {
        "events_key": layout.window_events(version), "catalog_key": spark_state["catalog_key"],
        "model_key": layout.model(version), "params_key": layout.params(version),
        "shadow_key": layout.shadow_model(version), "rows_prefix": layout.rows_prefix(version),
        "tuning": {"skipped": "stand-in"}, "seconds": 1.0,
        "counts": {"events": lambda_state["counts"]["events"],
                   "users": lambda_state["counts"]["users"],
                   "interactions": lambda_state["counts"]["interactions"],
                   "users_with_recommendations": 7},
    }
    objects.put(layout.spark_manifest(version), json.dumps(manifest).encode())
    return manifest


def with_parts(state: BatchState, parts: Sequence[Mapping[str, Any]]) -> BatchState:
    """The state as the Distributed Map leaves it for the finish: its children's results."""
    return cast(BatchState, {**state, EXPORT_PARTS_PATH: list(parts)})


# -- weight: the engine from the footers ---------------------------------------------------------
def test_weight_sizes_a_spark_window_from_footers_without_reading_a_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    objects = landed()

    def no_rows(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the spark engine's weight step decoded rows")

    monkeypatch.setattr(weight_module, "read_window", no_rows)
    state = weight_step({"as_of": AS_OF}, objects, BatchConfig(training_window_days=30,
                                                               spark_min_events=1000))
    monkeypatch.undo()
    reference_objects = landed()
    reference = weight_step({"as_of": AS_OF}, reference_objects, LAMBDA)
    assert state["engine"] == "spark" and reference["engine"] == "lambda"
    # The lander writes each event once, so the footers' count is the deduplicated count.
    assert state["counts"]["events"] == reference["counts"]["events"] >= 1000
    assert state["counts"]["partitions"] == reference["counts"]["partitions"]
    assert state["catalog_key"] == layout.catalog_snapshot(state["version"])
    assert objects.get(state["catalog_key"]) == reference_objects.get(reference["catalog_key"])
    # Nothing else of the Lambda path is written.
    assert not {"interactions_key", "window_key", "events_key"} & state.keys()
    assert objects.list(layout.interactions_prefix(state["version"])) == [state["catalog_key"]]


def test_weight_keeps_a_window_below_the_threshold_on_lambda() -> None:
    config = BatchConfig(training_window_days=30, tuning_seconds=0, spark_min_events=10**9)
    state = weight_step({"as_of": AS_OF}, landed(), config)
    assert state["engine"] == "lambda" and state["interactions_key"]


def test_weight_reports_an_unreadable_footer_and_refuses_past_the_share() -> None:
    objects = landed()
    objects.put(layout.event_file("2026-11-20", "broken"), b"PAR1 not parquet")
    state = weight_step({"as_of": AS_OF}, objects, SPARK)
    assert state["counts"]["skipped_event_files"] == 1
    assert state["skipped"]["events"][0]["key"].endswith("part-broken.parquet")
    from recs.exceptions import UnreadableInput

    with pytest.raises(UnreadableInput):
        weight_step({"as_of": AS_OF}, objects,
                    BatchConfig(training_window_days=30, engine="spark",
                                max_unreadable_share=0.0))


# -- train: the job's manifest into the state ------------------------------------------------
def spark_weighed(source: MemoryObjectStore, lambda_state: BatchState,
                  ) -> tuple[MemoryObjectStore, BatchState, SparkManifest]:
    objects = landed()
    state = weight_step({"as_of": AS_OF}, objects, SPARK)
    return objects, state, spark_job(objects, state, lambda_state, source)


def test_train_on_spark_collects_the_manifest(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, state, manifest = spark_weighed(*lambda_run)
    before = dict(objects.objects)
    trained = train_step(state, objects, SPARK)
    assert objects.objects == before  # it writes nothing
    for key in ("events_key", "model_key", "params_key", "shadow_key", "rows_prefix"):
        assert trained[key] == manifest[key]  # type: ignore[literal-required]
    assert trained["tuning"] == {"skipped": "stand-in"}
    assert trained["counts"]["users_with_recommendations"] == 7
    assert trained["counts"]["row_files"] == PARTS
    assert trained["counts"]["partitions"] == state["counts"]["partitions"]  # weight's kept


def test_train_refuses_a_missing_manifest(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, state, _ = spark_weighed(*lambda_run)
    del objects.objects[layout.spark_manifest(state["version"])]
    with pytest.raises(SparkOutputError, match=r"no Spark manifest at models/.*/spark\.json"):
        train_step(state, objects, SPARK)


def test_train_refuses_a_manifest_of_another_version(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, state, manifest = spark_weighed(*lambda_run)
    other = {**manifest, "model_key": layout.model("v-other")}
    objects.put(layout.spark_manifest(state["version"]), json.dumps(other).encode())
    wrong = re.escape("model_key is 'models/v-other/model.npz'")
    with pytest.raises(SparkOutputError, match=wrong):
        train_step(state, objects, SPARK)


def test_train_refuses_a_job_that_left_no_row_files(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, state, _ = spark_weighed(*lambda_run)
    for part in range(PARTS):
        del objects.objects[layout.row_file(state["version"], part)]
    with pytest.raises(SparkOutputError, match="no row files"):
        train_step(state, objects, SPARK)


# -- evaluate: the job's shadow ------------------------------------------------------------
def test_evaluate_scores_the_shadow_it_is_given_instead_of_training_one(
        lambda_run: tuple[MemoryObjectStore, BatchState],
        monkeypatch: pytest.MonkeyPatch) -> None:
    source, lambda_state = lambda_run
    registry = MemoryModelRegistry()
    trained_here = evaluate_step(lambda_state, source, registry, LAMBDA)
    # The shadow the Lambda path trains, stored as the job stores its own.
    from recs.batch.evaluation import gate
    from recs.batch.steps import as_of, midnight_ms
    from recs.batch.steps.train import config_from_params
    from recs.batch.training import train
    from recs.batch.weighting import DAY_MS, weight_events

    params = config_from_params(json.loads(source.get(lambda_state["params_key"])))
    events = evaluate_module.holdout_events(lambda_state, source)
    as_of_ms = midnight_ms(as_of(lambda_state))
    split = gate.holdout_split(events, as_of_ms, LAMBDA.holdout_days)
    shadow = train(weight_events(split.train, params, int(as_of_ms - DAY_MS)), params)
    source.put("models/shadow-test/shadow.npz", shadow.to_bytes())

    def no_training(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluate trained a shadow although it was given one")

    monkeypatch.setattr(evaluate_module, "train", no_training)
    given = evaluate_step({**lambda_state, "shadow_key": "models/shadow-test/shadow.npz"},
                          source, registry, LAMBDA)
    assert given["metrics"] == trained_here["metrics"]
    assert given["metrics"]["candidate"]  # there was a hold-out to score on
    assert given["gate"] == trained_here["gate"]


# -- export: start, parts, finish --------------------------------------------------------------
def test_the_three_phases_write_the_rows_the_lambda_export_writes(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    source, lambda_state = lambda_run
    objects, state, _ = spark_weighed(source, lambda_state)
    state = train_step(state, objects, SPARK)
    state = {**state, "gate": {"ok": True, "reason": "test"}}
    registry, table = MemoryModelRegistry(), MemoryRecommendationStore()

    started = export_start(state, objects, table, registry, SPARK, now=NOW)
    version = state["version"]
    assert registry.get_version(version).status == "exporting"  # type: ignore[union-attr]
    assert table.rows == {}  # keys first, no row yet
    keys = [key for chunk in table.read_row_keys(version) for key in chunk]
    parts = [export_part(version, key, objects, table)
             for key in objects.list(state["rows_prefix"])]
    finished = export_finish(with_parts(started, [
        {"rows_written": part["rows_written"]} for part in parts]), table, registry, SPARK,
        now=NOW)

    reference_table = MemoryRecommendationStore()
    reference = export_step({**lambda_state, "version": version}, source, reference_table,
                            MemoryModelRegistry(), LAMBDA, now=NOW)
    assert table.rows == reference_table.rows
    assert table.history == reference_table.history
    assert sorted(keys) == sorted(key for key, _ in reference_table.rows)
    assert finished["counts"]["rows_expected"] == finished["counts"]["rows_written"] \
        == reference["counts"]["rows_written"] == len(table.rows)
    assert finished["counts"]["row_files"] == PARTS
    assert EXPORT_PARTS_PATH not in finished
    record = registry.get_version(version)
    assert record is not None and record.status == "exported"
    assert record.counts["rows_written"] == record.counts["rows_expected"]
    promoted = promote_step(finished, registry, now=NOW)
    assert promoted["promoted"] is True and registry.live_version() == version


def test_a_lost_part_leaves_the_counts_apart_and_promote_refuses(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, state, _ = spark_weighed(*lambda_run)
    state = {**train_step(state, objects, SPARK), "gate": {"ok": True, "reason": "test"}}
    registry, table = MemoryModelRegistry(), MemoryRecommendationStore()
    started = export_start(state, objects, table, registry, SPARK, now=NOW)
    first = export_part(state["version"], layout.row_file(state["version"], 0), objects, table)
    finished = export_finish(with_parts(started, [first]), table, registry, SPARK, now=NOW)
    promoted = promote_step(finished, registry, now=NOW)
    assert promoted["promoted"] is False
    assert promoted["reason"] == (f"export wrote {first['rows_written']} rows of "
                                  f"{finished['counts']['rows_expected']} expected")


def test_a_part_refuses_another_versions_file_and_rows(
        lambda_run: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, state, _ = spark_weighed(*lambda_run)
    version, table = state["version"], MemoryRecommendationStore()
    with pytest.raises(SparkOutputError, match="not under version"):
        export_part(version, layout.row_file("v-other", 0), objects, table)
    objects.put(layout.row_file(version, 9), row_files.to_bytes(
        [dataclasses.replace(next(row_files.read(objects.get(layout.row_file(version, 0)))),
                             version="v-other")]))
    with pytest.raises(SparkOutputError, match="holds a row of version v-other"):
        export_part(version, layout.row_file(version, 9), objects, table)
    marker = f"{layout.rows_prefix(version)}_SUCCESS"
    assert export_part(version, marker, objects, table) == {"key": marker, "rows_written": 0}
