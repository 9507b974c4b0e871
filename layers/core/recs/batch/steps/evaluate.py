"""Step 3, evaluate: score the candidate and the live model on the same hold-out; gate.

The hold-out is the last ``holdout_days`` before the run's date. Neither model may have
trained on it, or the one that did wins by memory: the candidate is scored from a shadow
model trained with its own parameters on the events before the hold-out, and the live model
is compared only if its training window ended before the hold-out began (the nightly
cadence gives exactly that). The result decides the state machine's gate. The shadow is
never served, so it holds lists only for the users the gate scores (those with a positive
hold-out event); ranking every user of the window was most of this step's time and memory.

The step reads the window's events from the event files the weight step read
(``recs.batch.window.read_listed``), all of them at once, and splits them by event time
(``gate.holdout_split``), not by the files' dates: ``holdout_days`` may be a fraction of a
day, which no partition boundary falls on, and an event delivered twice is kept once across
the whole window, as the weight step kept it.

An engine that trained the version elsewhere (the Spark job) trains that shadow there too and
names it in ``shadow_key``: it is scored as it is, since a window too big for a Lambda to
train is too big to train its shadow in one; its hold-out comes from the job's user sample
(``events_key``), the users the shadow was trained for.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.dataset as ds

from recs.batch.config import BatchConfig
from recs.batch.evaluation import gate
from recs.batch.model import Model
from recs.batch.reclaim import release_memory
from recs.batch.steps import as_of, midnight_ms
from recs.batch.steps.train import config_from_params
from recs.batch.training import train
from recs.batch.weighting import DAY_MS, weight_arrays, window_arrays
from recs.batch.window import read_listed
from recs.contracts import layout
from recs.contracts.state import BatchState, Metrics
from recs.exceptions import NotFound
from recs.stores.ports import ModelRegistry, ObjectStore

READ_ROWS = 1 << 20  # rows per chunk of the events table (the reader's default is 131,072)


def holdout_events(state: BatchState, objects: ObjectStore) -> pa.Table:
    """The events the hold-out is split from: the window's, read from the event files the
    weight step listed (``window_key``), else the Spark job's sample (``events_key``)."""
    if state.get("window_key"):
        table = _lean(read_listed(objects, state["window_key"]))
        release_memory()
        return table
    return read_events(objects.get(state["events_key"]))


def read_events(data: bytes) -> pa.Table:
    """An events file (the Spark job's sample) as a table, as lean as the step can hold it.

    Decoded from ``data`` in place (a file object would copy it), into malloc's memory,
    which ``release_memory`` hands back, rather than Arrow's pool, which keeps the
    decoding's scratch resident.
    """
    fragment = ds.ParquetFileFormat().make_fragment(pa.BufferReader(data))
    table = _lean(fragment.to_table(memory_pool=pa.system_memory_pool(), batch_size=READ_ROWS))
    del fragment
    release_memory()
    return table


def _lean(table: pa.Table) -> pa.Table:
    """Without the session ids when every event has a user id: nothing reads them then."""
    if "session_id" in table.column_names and table["user_id"].null_count == 0:
        return table.drop_columns(["session_id"])
    return table


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 5) for k, v in metrics.items()}


def evaluate_step(state: BatchState, objects: ObjectStore, registry: ModelRegistry,
                  config: BatchConfig) -> BatchState:
    params = json.loads(objects.get(state["params_key"]))
    candidate_config = config_from_params(params)
    as_of_ms = midnight_ms(as_of(state))
    holdout_start_ms = int(as_of_ms - config.holdout_days * DAY_MS)
    # Each table goes as soon as the next is made: the window, its two halves and the
    # shadow's sums held at once were this step's memory peak.
    split = gate.holdout_split(holdout_events(state, objects), as_of_ms, config.holdout_days)
    before, test = split.train, split.test
    del split
    release_memory()  # the split's scratch (the times, the masks)
    result: Metrics = {"holdout_days": config.holdout_days, "holdout_events": test.num_rows}
    if test.num_rows == 0 or before.num_rows == 0:
        ok, reason = True, "no hold-out to evaluate on; promoted on its export counts alone"
        return {**state, "gate": {"ok": ok, "reason": reason}, "metrics": result}

    if state.get("shadow_key"):
        del before
        shadow = Model.from_bytes(objects.get(state["shadow_key"]))
    else:
        arrays = window_arrays(before, candidate_config, holdout_start_ms)
        del before
        release_memory()
        interactions = weight_arrays(arrays, candidate_config, holdout_start_ms)
        del arrays
        release_memory()  # the sums' scratch, before the fit's own
        # Lists only for the users the gate scores: ranking the others would be most of
        # the step's time.
        shadow = train(interactions, candidate_config,
                       users=gate.scored_rows(interactions.user_ids, test, candidate_config))
        del interactions
    release_memory()
    candidate = _rounded(gate.score_model(shadow, test, candidate_config))
    del shadow
    result["candidate"] = candidate

    live_metrics = None
    live = registry.live_version()
    record = registry.get_version(live) if live else None
    holdout_start = datetime.fromtimestamp(holdout_start_ms / 1000, tz=UTC).date().isoformat()
    if live and live != state["version"] and record and record.window_end <= holdout_start:
        try:
            live_model: Model | None = Model.from_bytes(objects.get(layout.model(live)))
        except NotFound:  # expired by the bucket's lifecycle rule: a live model that old
            live_model = None  # is no bar to clear
            result["live_skipped"] = f"live model {live}'s artefact has expired; not compared"
        if live_model is not None:
            live_metrics = _rounded(gate.score_model(live_model, test, candidate_config))
            result["live"] = live_metrics
            result["live_version"] = live
    elif live:
        result["live_skipped"] = (f"live model {live} trained on the hold-out days or is this "
                                  "version; not compared")
    ok, reason = gate.compare(candidate, live_metrics, config.gate_margin)
    return {**state, "gate": {"ok": ok, "reason": reason}, "metrics": result}
