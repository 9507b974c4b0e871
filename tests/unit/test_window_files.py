"""The window is its event files, listed under the version, not a copy of their events.

The weight step selects the window's files, reads them and lists them
(``layout.window_files``); a tuning train step and evaluate read exactly those files again.
So they see the events the weight step saw, in its order and deduplicated as it did, and a
file that lands in the window's days after the weight step (late events join their own
day's partition) reaches neither.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recs.batch import window
from recs.batch.evaluation import gate
from recs.batch.evaluation.split import ts_ms
from recs.batch.steps import midnight_ms
from recs.batch.steps.evaluate import evaluate_step, holdout_events
from recs.batch.steps.train import train_step
from recs.batch.steps.weight import weight_step
from recs.batch.weighting import DAY_MS
from recs.batch.window import FileReport, put_listing, read_listed, read_window, window_keys
from recs.contracts import layout
from recs.intake.ingest import ingest
from recs.intake.landing import land, parse_message
from recs.stores.memory import MemoryEventQueue, MemoryModelRegistry, MemoryObjectStore
from recs_local import sample_data
from tests.unit.test_spark_steps import AS_OF, END, LAMBDA, landed
from tests.unit.test_tuning_rerun import ticking
from tests.unit.test_window import _Vanishing, ids, store_of

DAY = date.fromisoformat(AS_OF)
START = DAY - timedelta(days=LAMBDA.training_window_days)


def land_late_events(objects: MemoryObjectStore) -> list[str]:
    """Another batch of the window's last day, landed as the lander lands it: its new keys."""
    before, queue = set(objects.list(layout.EVENTS)), MemoryEventQueue()
    ingest(sample_data.generate(users=80, days=1, seed=11, end=END), queue, None,
           midnight_ms(DAY))
    land([parse_message(body) for body in queue.messages], objects)
    return sorted(set(objects.list(layout.EVENTS)) - before)


def test_the_window_is_the_event_files_of_its_days_in_key_order() -> None:
    keys = ["events/dt=2026-10-25/part-a.parquet",  # the window's first day
            "events/dt=2026-10-24/part-b.parquet",  # the day before it
            "events/dt=2026-11-23/part-c.parquet",  # its last day
            "events/dt=2026-11-24/part-d.parquet",  # the run's own day: not yet whole
            "events/dt=2026-11-01/part-e.json",  # not an event file
            "events-rejected/dt=2026-11-01/m-1.json",
            "events/dt=2026-11-01/part-f.parquet"]
    assert window_keys(keys, START, DAY) == [keys[0], keys[2], keys[6]]


def test_weight_lists_the_files_it_read_and_copies_no_events() -> None:
    objects = landed()
    state = weight_step({"as_of": AS_OF}, objects, LAMBDA)
    version = state["version"]
    keys = window_keys(objects.list(layout.EVENTS), START, DAY)
    assert len(keys) == state["counts"]["partitions"] > 1
    assert state["window_key"] == layout.window_files(version)
    assert json.loads(objects.get(state["window_key"])) == {"event_files": keys,
                                                          "duplicates": {}}
    assert objects.list(layout.interactions_prefix(version)) == sorted(
        [layout.window_files(version), layout.interactions(version),
         layout.catalog_snapshot(version)])
    # Read again, the files give the table the weight step read: same rows, same order.
    again = read_listed(objects, state["window_key"])
    assert again.equals(read_window(objects, keys))
    assert again.num_rows == state["counts"]["events"]


def test_a_file_landed_after_the_weight_step_reaches_neither_tuning_nor_the_gate() -> None:
    config = dataclasses.replace(LAMBDA, tuning_seconds=10.0)
    objects, quiet = landed(), landed()
    state = weight_step({"as_of": AS_OF}, objects, config)
    weight_step({"as_of": AS_OF}, quiet, config)
    late = land_late_events(objects)
    assert late and set(late) <= set(window_keys(objects.list(layout.EVENTS), START, DAY))
    assert not set(late) & set(json.loads(objects.get(state["window_key"]))["event_files"])
    assert holdout_events(state, objects).equals(holdout_events(state, quiet))
    relisted = read_window(objects, window_keys(objects.list(layout.EVENTS), START, DAY))
    assert relisted.num_rows > state["counts"]["events"]  # what listing again would read

    trained = train_step(state, objects, config, clock=ticking(0.5))
    assert trained["tuning"].get("trials", 0) > 0  # tuning read the window
    assert objects.get(trained["model_key"]) == quiet.get(
        train_step(state, quiet, config, clock=ticking(0.5))["model_key"])
    evaluated = evaluate_step(trained, objects, MemoryModelRegistry(), config)
    assert evaluated["metrics"]["holdout_events"] > 0
    assert evaluated["metrics"] == evaluate_step(trained, quiet, MemoryModelRegistry(),
                                                 config)["metrics"]


@pytest.mark.parametrize("days", [1.0, 1.75])
def test_the_hold_out_is_split_by_event_time_from_the_whole_window(days: float) -> None:
    """A hold-out of 1.75 days begins inside a partition, which no file boundary splits:
    the events' own times do, so the step reads every file of the window and cuts by time."""
    config = dataclasses.replace(LAMBDA, holdout_days=days)
    objects = landed()
    state = weight_step({"as_of": AS_OF}, objects, config)
    events = holdout_events(state, objects)
    cutoff = midnight_ms(DAY) - days * DAY_MS
    times = ts_ms(events)
    split = gate.holdout_split(events, midnight_ms(DAY), days)
    assert split.test.num_rows == int(np.count_nonzero(times >= cutoff)) > 0
    assert split.train.num_rows == int(np.count_nonzero(times < cutoff)) > 0
    cut_day = cutoff - cutoff % DAY_MS  # the midnight starting the partition cut into
    before_the_cut_that_day = int(np.count_nonzero((times >= cut_day) & (times < cutoff)))
    assert (before_the_cut_that_day > 0) == (days != int(days))
    evaluated = evaluate_step(train_step(state, objects, config), objects,
                              MemoryModelRegistry(), config)
    assert evaluated["metrics"]["holdout_events"] == split.test.num_rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(ids, st.sampled_from("xyz")), max_size=8), min_size=1,
                max_size=6), st.integers(min_value=1, max_value=12), st.data())
def test_the_listed_files_read_again_without_ids_give_the_window(
        files: list[Any], compact: int, data: st.DataObject) -> None:
    """The duplicates dropped by position are the ones the ids' dedup dropped, whatever the
    files, their unusable ones and the compaction; a listed file gone since is reported."""
    store, keys = store_of(files)
    broken = data.draw(st.sampled_from(keys))
    store.put(broken, store.get(broken)[:-9])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(window, "COMPACT_ROWS", compact)
        report = FileReport()
        table = read_window(store, keys, report)
        put_listing(store, "interactions/v/window.json", keys, report)
        assert json.loads(store.get("interactions/v/window.json"))["event_files"] == [
            k for k in keys if k != broken]
        again = FileReport()
        assert read_listed(store, "interactions/v/window.json", again).equals(table)
    assert again.skipped == [] and again.bytes == report.bytes - len(store.get(broken))
    listed = [k for k in keys if k != broken]
    if listed:
        gone = _Vanishing(listed[0])
        for key in store.list(""):
            gone.put(key, store.get(key))
        vanished = FileReport()
        read_listed(gone, "interactions/v/window.json", vanished)
        assert [s["key"] for s in vanished.skipped] == [listed[0]]
