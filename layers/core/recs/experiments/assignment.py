"""Who sees which variant: a salted hash of the unit id, with no state to store or look up.

The salt is the experiment's id, so a unit's variant is the same on every request
(sticky), the same in every function (deterministic), and unrelated between two
experiments running at once (independent): a user in B of one experiment is in either arm
of the next with the configured odds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from recs.contracts.experiments import Experiment, Variant

_SCALE = float(1 << 64)


def position(experiment_id: str, unit_id: str) -> float:
    """The unit's place in [0, 1) for this experiment, uniform over units."""
    digest = hashlib.sha256(f"{experiment_id}\x1f{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def variant_at(variants: Sequence[Variant], where: float) -> Variant:
    """The variant whose share of [0, 1) holds ``where``; shares follow the weights."""
    total = sum(v["weight"] for v in variants)
    threshold = 0.0
    for variant in variants:
        threshold += variant["weight"] / total
        if where < threshold:
            return variant
    return variants[-1]  # ``where`` within rounding of 1


def assign(experiment: Experiment, unit_id: str) -> Variant:
    """The variant ``unit_id`` sees in ``experiment``."""
    return variant_at(experiment["variants"], position(experiment["id"], unit_id))
