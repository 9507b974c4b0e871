"""The experiments an operator runs: create, list, report and stop them (the admin routes).

One running experiment per surface at a time: serving places a shopper in the first running
experiment that covers the surface it serves (``recs.serving.arms``), so a second one on an
overlapping surface would never receive a unit and its report would mislead. Creating it is
refused instead, naming the experiment in the way. The check and the write are two calls,
so two creates racing each other can both pass; operators create experiments by hand, one
at a time, and the list shows both should it happen.

Stopping records a winner but changes no serving on its own: rolling the winner out (its
model version made live, its settings in the deployment) is the caller's choice, and
``roll_out_of`` says what it takes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recs.contracts.experiments import (
    SERVING_OVERRIDE_ENV,
    Experiment,
    Variant,
    VariantCounts,
)
from recs.exceptions import Conflict, NotFound, ValidationError
from recs.experiments.definition import validate_experiment
from recs.experiments.results import summarise
from recs.stores.ports import ExperimentStore

ALL_SURFACES = "all"
_STOP_FIELDS = frozenset({"winner", "roll_out"})


def overlaps(surface: str, other: str) -> bool:
    """Whether two experiments would compete for the same requests."""
    return surface == other or ALL_SURFACES in (surface, other)


def create_experiment(raw: Any, store: ExperimentStore,
                      now: datetime | None = None) -> Experiment:
    """The experiment ``raw`` declares, stored and running from ``now``."""
    experiment = validate_experiment(raw, now)
    for other in store.list():
        if other.get("status") == "running" and overlaps(experiment["surface"],
                                                         other["surface"]):
            raise Conflict(
                f"experiment {other['id']} ({other['name']!r}) is running on surface "
                f"{other['surface']}, which overlaps {experiment['surface']}: stop it first "
                f"(POST /experiments/{other['id']}/stop)")
    store.create(experiment)
    return experiment


def list_experiments(store: ExperimentStore) -> list[Experiment]:
    """Every experiment, newest first (ids begin with their creation time)."""
    return sorted(store.list(), key=lambda e: (e["created_at"], e["id"]), reverse=True)


def get_experiment(experiment_id: str, store: ExperimentStore) -> Experiment:
    experiment = store.get(experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id} does not exist")
    return experiment


def by_name(experiment: Experiment,
            counts: Mapping[int, VariantCounts]) -> dict[str, VariantCounts]:
    """Counts kept by variant position, by variant name. A position the experiment does not
    have (a row written by hand) is left out rather than credited to another variant."""
    names = [variant["name"] for variant in experiment["variants"]]
    return {names[position]: value for position, value in counts.items()
            if 0 <= position < len(names)}


def experiment_report(experiment_id: str, store: ExperimentStore) -> dict[str, Any]:
    """The experiment, its results from the live counters, and the nightly recount's (None
    before the first recount). The live results reflect events within seconds; the recount
    is exact (deduplicated over the whole lake) as of its ``as_of``."""
    experiment = get_experiment(experiment_id, store)
    report: dict[str, Any] = {
        **experiment,
        "results": summarise(experiment, by_name(experiment, store.live_counts(experiment_id))),
        "exact": None,
    }
    exact = store.exact(experiment_id)
    if exact is not None:
        report["exact"] = {
            "as_of": exact.as_of,
            "results": summarise(experiment, by_name(experiment, exact.totals)),
            "days": {day: {name: counts.to_dict()
                           for name, counts in by_name(experiment, per_variant).items()}
                     for day, per_variant in sorted(exact.days.items())},
        }
    return report


def stoppable(experiment_id: str, store: ExperimentStore,
              winner: str | None = None) -> Experiment:
    """The experiment, once it is known to be running and ``winner`` one of its variants:
    what ``stop_experiment`` checks before it writes, for a caller that acts first (rolls
    the winner out) and stops only if that worked."""
    experiment = get_experiment(experiment_id, store)
    if experiment["status"] != "running":
        raise Conflict(f"experiment {experiment_id} was stopped at "
                       f"{experiment.get('stopped_at', 'an unknown time')}")
    if winner is not None:
        names = [variant["name"] for variant in experiment["variants"]]
        if not isinstance(winner, str) or winner not in names:
            raise ValidationError("winner", f"must be a variant of experiment {experiment_id}: "
                                            f"{', '.join(names)}")
    return experiment


def stop_experiment(experiment_id: str, store: ExperimentStore, winner: str | None = None,
                    now: datetime | None = None) -> Experiment:
    """Stop a running experiment: serving stops placing shoppers in it once its cache of
    running experiments expires (``RECS_POINTER_TTL_S``); its counts stay readable."""
    experiment = stoppable(experiment_id, store, winner)
    experiment["status"] = "stopped"
    experiment["stopped_at"] = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    if winner is not None:
        experiment["winner"] = winner
    store.save(experiment)
    return experiment


def parse_json(body: str | None) -> Any:
    """A request body's JSON (None for no body); standard JSON only, so no NaN reaches a
    stored definition that a client could not read back."""
    if body is None or not body.strip():
        return None
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationError("body", "must be JSON") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_stop(body: str | None) -> tuple[str | None, bool]:
    """``(winner, roll_out)`` from the optional body of ``POST /experiments/{id}/stop``."""
    raw = parse_json(body)
    if raw is None:
        return None, False
    if not isinstance(raw, dict):
        raise ValidationError("body", "must be a JSON object")
    unknown = sorted(set(raw) - _STOP_FIELDS)
    if unknown:
        raise ValidationError(unknown[0], "is not a field of a stop: winner, roll_out")
    winner = raw.get("winner")
    if winner is not None and not isinstance(winner, str):
        raise ValidationError("winner", "must be a variant name")
    roll_out = raw.get("roll_out", False)
    if not isinstance(roll_out, bool):
        raise ValidationError("roll_out", "must be true or false")
    if roll_out and winner is None:
        raise ValidationError("roll_out", "needs a winner to roll out")
    return winner, roll_out


@dataclass(frozen=True)
class RollOut:
    """What making a winner every shopper's experience takes: its model version made live
    (None: it served the live model, or it is the control) and its settings set in the
    deployment, by environment variable."""

    variant: str
    model_version: str | None = None
    settings: dict[str, float | int] = field(default_factory=dict)
    control: bool = False


def roll_out_of(experiment: Experiment, winner: str) -> RollOut:
    """The roll-out of ``winner``. A control winner rolls out nothing: it served trending,
    which no one would make everyone's list; keeping what runs is the choice it stands for."""
    variant: Variant = next(v for v in experiment["variants"] if v["name"] == winner)
    if variant.get("control"):
        return RollOut(winner, control=True)
    return RollOut(winner, variant.get("model_version"),
                   {SERVING_OVERRIDE_ENV[name]: value
                    for name, value in sorted(variant.get("settings", {}).items())})


def roll_out_words(plan: RollOut, promoted: Mapping[str, Any] | None) -> str:
    """What a roll-out did and what is left to the operator, in words: settings live in the
    deployment (``recs_config``), so no route can change them for every function at once."""
    if plan.control:
        return f"{plan.variant} is the control: nothing to roll out, serving stays as it is"
    done = []
    if promoted is not None:
        done.append(f"model version {promoted['live_version']} is live"
                    + ("" if promoted.get("changed") else " (it was already)"))
    if plan.settings:
        pairs = ", ".join(f"{name}={value}" for name, value in plan.settings.items())
        done.append(f"set {pairs} (recs_config in the CDK context) and deploy: settings take "
                    "effect on the next deploy")
    if not done:
        return (f"{plan.variant} served the live model with the deployed settings: nothing "
                "to roll out")
    return "; ".join(done)
