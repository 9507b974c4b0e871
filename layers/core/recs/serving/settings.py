"""Serving settings: filters and re-ranking, read from the environment at cold start."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from recs.contracts.events import DEFAULT_EVENT_WEIGHTS
from recs.exceptions import ConfigError


@dataclass(frozen=True)
class ServingConfig:
    """Each field maps to ``RECS_<FIELD NAME>``."""

    pointer_ttl_s: float = 30.0
    max_per_category: int = 3
    new_arrival_share: float = 0.2
    long_tail_share: float = 0.1
    max_impressions: int = 3
    repeat_purchase_categories: tuple[str, ...] = ()
    session_items: int = 10
    session_neighbours: int = 20
    session_decay: float = 0.8
    event_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    # How long one request may wait for DynamoDB in all (timeouts, one retry), in ms; then it
    # answers from what it read (recs.stores.aws.DynamoServingReader).
    read_budget_ms: int = 300

    def __post_init__(self) -> None:
        if self.max_per_category < 1:
            raise ConfigError("RECS_MAX_PER_CATEGORY: must be >= 1")
        if not 0 <= self.new_arrival_share <= 1 or not 0 <= self.long_tail_share <= 1:
            raise ConfigError("RECS_NEW_ARRIVAL_SHARE, RECS_LONG_TAIL_SHARE: must be in [0, 1]")
        if self.new_arrival_share + self.long_tail_share > 1:
            raise ConfigError("RECS_NEW_ARRIVAL_SHARE + RECS_LONG_TAIL_SHARE: must be <= 1")
        if self.max_impressions < 1 or self.session_items < 1:
            raise ConfigError("RECS_MAX_IMPRESSIONS and RECS_SESSION_ITEMS: must be >= 1")
        if not 0 < self.session_decay <= 1:
            raise ConfigError("RECS_SESSION_DECAY: must be in (0, 1]")
        if not 30 <= self.read_budget_ms <= 5_000:
            raise ConfigError("RECS_READ_BUDGET_MS: must be in [30, 5000]")

    @property
    def read_budget_s(self) -> float:
        return self.read_budget_ms / 1000

    def is_repeat_purchase(self, category: str | None) -> bool:
        return bool(category) and any(
            category == c or category.startswith(c + "/")  # type: ignore[union-attr]
            for c in self.repeat_purchase_categories)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingConfig:
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        try:
            for name, kind in (("pointer_ttl_s", float), ("max_per_category", int),
                               ("new_arrival_share", float), ("long_tail_share", float),
                               ("max_impressions", int),
                               ("session_items", int), ("session_neighbours", int),
                               ("session_decay", float), ("read_budget_ms", int)):
                raw = env.get(f"RECS_{name.upper()}")
                if raw:
                    kwargs[name] = kind(raw)
            repeat = env.get("RECS_REPEAT_PURCHASE_CATEGORIES")
            if repeat:
                kwargs["repeat_purchase_categories"] = tuple(
                    c.strip().strip("/") for c in repeat.split(",") if c.strip())
            weights = env.get("RECS_EVENT_WEIGHTS")
            if weights:
                kwargs["event_weights"] = {**DEFAULT_EVENT_WEIGHTS,
                                           **{k: float(v) for k, v in json.loads(weights).items()}}
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"serving configuration: {exc}") from exc
        return cls(**kwargs)  # type: ignore[arg-type]
