"""Same day, same data, same version, same rows: tuning's time box cannot make a re-run differ.

Tuning stops where its wall-clock box runs out, so two runs of one window on machines of
different speed cut the grid at different points. The clocks here are injected and tick a
fixed amount per reading, so "a slow machine" and "a fast machine" are exact.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from recs.batch.config import BatchConfig
from recs.batch.evaluation import tuning
from recs.batch.steps.train import train_step
from recs.batch.steps.weight import weight_step
from recs.batch.window import read_listed
from recs.contracts import layout
from recs.contracts.state import BatchState
from recs.intake.ingest import ingest
from recs.intake.landing import land, parse_message
from recs.stores.memory import MemoryEventQueue, MemoryObjectStore
from recs_local import sample_data

END = datetime(2026, 11, 23, 12, tzinfo=UTC)
CONFIG = BatchConfig(tuning_seconds=10.0, training_window_days=30)


def ticking(step: float) -> Callable[[], float]:
    """A clock that advances ``step`` seconds each time it is read."""
    counter = itertools.count()
    return lambda: next(counter) * step


@pytest.fixture(scope="module")
def weighed() -> tuple[MemoryObjectStore, BatchState]:
    objects, queue = MemoryObjectStore(), MemoryEventQueue()
    ingest(sample_data.generate(users=120, days=10, end=END), queue, None,
           int(END.timestamp() * 1000))
    land([parse_message(body) for body in queue.messages], objects)
    state = weight_step({"as_of": "2026-11-24"}, objects, CONFIG)
    assert state["counts"]["events"] >= 1_000  # enough for tuning to run
    return objects, state


def test_the_time_box_cuts_the_grid_where_the_clock_says(
        weighed: tuple[MemoryObjectStore, BatchState]) -> None:
    """Why a recorded choice is needed: the same window, two machine speeds, two cuts."""
    objects, state = weighed
    events = read_listed(objects, state["window_key"])
    as_of_ms = int(datetime(2026, 11, 24, tzinfo=UTC).timestamp() * 1000)
    slow = tuning.tune(events, CONFIG, as_of_ms, clock=ticking(2.0)).record()
    fast = tuning.tune(events, CONFIG, as_of_ms, clock=ticking(0.5)).record()
    assert slow["complete"] is False and fast["complete"] is False
    assert slow["trials"] < fast["trials"]


def test_a_rerun_of_the_version_trains_with_the_first_runs_choice(
        weighed: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, weighed_state = weighed
    first = train_step(dict(weighed_state), objects, CONFIG, clock=ticking(2.0))  # type: ignore[arg-type]
    model, params = objects.get(first["model_key"]), objects.get(first["params_key"])
    recorded = json.loads(objects.get(layout.tuning_choice(first["version"])))
    assert recorded["record"] == first["tuning"] and "reused" not in first["tuning"]

    # The re-run's machine is four times as fast: tuning afresh would get further.
    again = train_step(dict(weighed_state), objects, CONFIG, clock=ticking(0.5))  # type: ignore[arg-type]
    assert again["tuning"]["reused"] is True
    assert {k: v for k, v in again["tuning"].items() if k != "reused"} == first["tuning"]
    # Both objectives' choices come back: the discovery part's with its own score.
    assert again["tuning"]["discovery"]["params"]["discovery"] == again["tuning"]["params"][
        "discovery"]
    assert objects.get(again["params_key"]) == params
    assert objects.get(again["model_key"]) == model
    assert again["counts"] == first["counts"]


def test_an_unreadable_recorded_choice_is_tuned_again(
        weighed: tuple[MemoryObjectStore, BatchState]) -> None:
    objects, weighed_state = weighed
    version = weighed_state["version"]
    objects.put(layout.tuning_choice(version), b'{"params": {"no_such_setting": 1}}')
    state = train_step(dict(weighed_state), objects, CONFIG, clock=ticking(2.0))  # type: ignore[arg-type]
    assert "reused" not in state["tuning"] and state["tuning"]["trials"] >= 1
    assert json.loads(objects.get(layout.tuning_choice(version)))["record"] == state["tuning"]
