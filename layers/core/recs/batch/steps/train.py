"""Step 2, train: tune on a validation split of the window, then train the model version.

Tuning (``recs.batch.evaluation.tuning``) needs the window's events: the step reads again the
event files the weight step read (``recs.batch.window.read_listed``). The chosen parameters
are written next to the model and recorded in the registry by the export step. With tuning
off (``RECS_TUNING_SECONDS=0``) the configured parameters train on the weight step's
interactions as they are.

Tuning stops where its wall-clock time box runs out, so two runs of one day could choose
differently. The first run's choice is therefore written under the version
(``layout.tuning_choice``) before training, and a re-run of the version (same day, same
inputs, same settings) trains with it instead of tuning again: the same version always
gets the same parameters and so the same rows.

On the Spark engine the job has trained the version already (``recs_spark.job``): this step
then only reads the job's manifest (``layout.spark_manifest``) into the state, and refuses
a manifest that is missing or names another version's outputs, so nothing the job did not
write for this version is ever evaluated or exported.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from recs.batch import engine as engines
from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.reclaim import release_memory
from recs.batch.steps import as_of, midnight_ms
from recs.batch.steps.weight import apply_catalog_categories
from recs.batch.training import train
from recs.batch.weighting import MIN_TUNING_EVENTS, tunes, weight_arrays, window_arrays
from recs.batch.window import read_listed
from recs.contracts import layout
from recs.contracts.state import BatchState, SparkManifest, TuningRecord
from recs.exceptions import ConfigError, NotFound, SparkOutputError
from recs.stores.ports import ObjectStore


def config_from_params(params: dict[str, Any]) -> BatchConfig:
    """The BatchConfig a model was trained with, from its ``params.json``."""
    known = {f.name for f in dataclasses.fields(BatchConfig)}
    return BatchConfig(**{k: v for k, v in params.items() if k in known})


def train_step(state: BatchState, objects: ObjectStore, config: BatchConfig,
               clock: Callable[[], float] = time.perf_counter) -> BatchState:
    """Tune (or take the version's recorded choice), train, write the model and its
    parameters. ``clock`` is tuning's time box's clock (seconds). On the Spark engine, the
    job's outputs instead (``collect_spark``)."""
    if state.get("engine") == engines.SPARK:
        return collect_spark(state, objects)
    version = state["version"]
    tuning: TuningRecord = {}
    events_in_window = int(state.get("counts", {}).get("events", 0))
    tune = tunes(config, events_in_window) and bool(state.get("window_key"))
    if not tune and config.tuning_seconds > 0:
        tuning = {"skipped": f"{events_in_window} events in the window; tuning needs "
                             f"at least {MIN_TUNING_EVENTS}"}
    if state.get("interactions_key") and not tune:
        interactions = Interactions.from_bytes(objects.get(state["interactions_key"]))
    else:
        # The weight step made no sums (it expected this step to tune, and a step's settings
        # may differ from another's): the window's events are weighted here, with the
        # parameters tuning chose when it ran.
        events = read_listed(objects, state["window_key"])
        as_of_ms = midnight_ms(as_of(state))
        if tune:
            from recs.batch.evaluation import tuning as tuner

            recorded = recorded_choice(objects, version, config)
            if recorded is None:
                result = tuner.tune(events, config, as_of_ms, clock=clock)
                config, tuning = result.config, result.record()
                objects.put(layout.tuning_choice(version), json.dumps(
                    {"params": result.params, "record": tuning}, sort_keys=True).encode())
            else:
                config, tuning = recorded
            release_memory()  # the trials' scratch
        # Training never needs the events: their table goes before the sums are made, as
        # in the weight step, and their arrays as the sums consume them.
        arrays = window_arrays(events, config, as_of_ms)
        del events
        release_memory()
        interactions = weight_arrays(arrays, config, as_of_ms)
        del arrays
        release_memory()
        facts = json.loads(objects.get(state["catalog_key"])) if state.get("catalog_key") else {}
        apply_catalog_categories(interactions, facts)
    # What the model trained on (with tuning the weight step made no interactions).
    users, items, pairs = (interactions.n_users, interactions.n_items,
                           int(interactions.weight.size))
    model = train(interactions, config)
    del interactions  # the model's file is written next: it needs their memory
    release_memory()
    model_key = layout.model(version)
    objects.put(model_key, model.to_bytes())
    params_key = layout.params(version)
    objects.put(params_key, json.dumps(config.as_dict(), sort_keys=True).encode())
    return {
        **state,
        "model_key": model_key,
        "params_key": params_key,
        "tuning": tuning,
        "counts": {
            **state.get("counts", {}),
            "users": users, "items": items, "interactions": pairs,
            "users_with_recommendations": int(np.count_nonzero(np.diff(model.rec_indptr))),
            "items_with_neighbours": int(np.count_nonzero(np.diff(model.similarity.indptr))),
            "categories": int(model.category_names.size),
        },
    }


def recorded_choice(objects: ObjectStore, version: str,
                     config: BatchConfig) -> tuple[BatchConfig, TuningRecord] | None:
    """The configuration and tuning record an earlier run of ``version`` chose, or None when
    there is none (or it no longer applies to these settings' fields)."""
    from recs.batch.evaluation import tuning as tuner

    try:
        saved = json.loads(objects.get(layout.tuning_choice(version)))
        chosen = tuner.apply(config, dict(saved["params"]))
        record: TuningRecord = {**saved["record"], "reused": True}
    except NotFound:
        return None
    except (ValueError, TypeError, KeyError, ConfigError):
        return None  # unreadable, or from settings this code no longer has: tune again
    return chosen, record


def collect_spark(state: BatchState, objects: ObjectStore) -> BatchState:
    """The state with what the Spark job wrote for the version: its keys, tuning record and
    counts, from its manifest. Raises ``SparkOutputError`` when there is no manifest, when
    it names keys that are not this version's, or when the job left no row files."""
    version = state["version"]
    key = layout.spark_manifest(version)
    try:
        manifest: SparkManifest = json.loads(objects.get(key))
    except NotFound as exc:
        raise SparkOutputError(f"no Spark manifest at {key}: the job did not finish "
                               f"version {version}") from exc
    except ValueError as exc:
        raise SparkOutputError(f"the Spark manifest at {key} is not JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise SparkOutputError(f"the Spark manifest at {key} is not a JSON object")
    expected = {
        "events_key": layout.window_events(version),
        "model_key": layout.model(version),
        "params_key": layout.params(version),
        "shadow_key": layout.shadow_model(version),
        "rows_prefix": layout.rows_prefix(version),
    }
    if state.get("catalog_key"):
        expected["catalog_key"] = state["catalog_key"]
    found: dict[str, Any] = dict(manifest)
    wrong = {name: found.get(name) for name, wanted in expected.items()
             if found.get(name) != wanted}
    if wrong:
        raise SparkOutputError(
            f"the Spark manifest at {key} does not describe version {version}: "
            + ", ".join(f"{name} is {value!r}, expected {expected[name]!r}"
                        for name, value in sorted(wrong.items())))
    rows = [k for k in objects.list(expected["rows_prefix"]) if layout.is_row_file(k)]
    if not rows:
        raise SparkOutputError(f"the Spark job wrote no row files under "
                               f"{expected['rows_prefix']}")
    return {
        **state,
        "events_key": expected["events_key"],
        "model_key": expected["model_key"],
        "params_key": expected["params_key"],
        "shadow_key": expected["shadow_key"],
        "rows_prefix": expected["rows_prefix"],
        "tuning": manifest.get("tuning", {}),
        "counts": {**state.get("counts", {}), **manifest.get("counts", {}),
                   "row_files": len(rows)},
    }
