"""Which arm of a running experiment a request is served in, and counting what it was shown.

The running experiments are read from the experiments table at most once per
``pointer_ttl_s`` (like the live pointer), so a request costs no extra read; the arm is a
hash of the unit id (``recs.experiments.assignment``). An experiment store that fails keeps
the experiments last read, and an exposure that cannot be counted is logged and dropped:
neither may turn an answer into an error. The nightly recount cannot restore a dropped
exposure (served lists are not in the lake), so the log line says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from recs.contracts.experiments import Experiment, Outcome, Variant
from recs.contracts.ids import Arm
from recs.exceptions import StoreError
from recs.experiments.assignment import assign
from recs.stores.ports import ExperimentStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """A request's arm: the experiment, the variant it sees and the unit it was assigned by."""

    experiment: Experiment
    variant: Variant
    arm: Arm
    unit_id: str

    @property
    def control(self) -> bool:
        return bool(self.variant.get("control"))


class Arms:
    def __init__(self, store: ExperimentStore, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self._running: list[Experiment] = []
        self._read_at = float("-inf")

    def running(self) -> list[Experiment]:
        now = self.clock()
        if now - self._read_at >= self.ttl_s:
            try:
                self._running = [e for e in self.store.list() if e.get("status") == "running"]
                self._read_at = now
            except (StoreError, ValueError, KeyError, TypeError) as exc:
                logger.warning("experiments unavailable, keeping %d: %s",
                               len(self._running), exc)
        return self._running

    def place(self, surface: str, user_id: str | None,
              session_id: str | None) -> Placement | None:
        """The arm of the (one) running experiment on ``surface`` for this shopper, None when
        none runs there or the request lacks the experiment's unit id."""
        for experiment in self.running():
            if experiment["surface"] not in (surface, "all"):
                continue
            unit_id = user_id if experiment["unit"] == "user" else session_id
            if not unit_id:
                return None
            variant = assign(experiment, unit_id)
            index = experiment["variants"].index(variant)
            return Placement(experiment, variant,
                             Arm(experiment["id"], index, experiment["unit"][0]), unit_id)
        return None

    def expose(self, placement: Placement) -> None:
        """Count one served list for the unit's arm."""
        try:
            self.store.record(placement.arm.experiment, placement.arm.variant,
                              placement.unit_id, Outcome(served=1), int(time.time() * 1000))
        except (StoreError, ValueError, TypeError) as exc:
            logger.warning("exposure to %s/%s not counted (the nightly recount cannot "
                           "restore it): %s", placement.arm.experiment,
                           placement.variant["name"], exc)
