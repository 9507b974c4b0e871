"""Tunable settings, read from the environment once per cold start.

Plain dataclasses rather than pydantic-settings: the API function imports this module, and
parsing a dozen variables by hand costs nothing at cold start. Every bad value raises
``ConfigError`` naming the variable, so a misconfigured deployment fails loudly at init.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from recs.exceptions import ConfigError

EVENT_TYPES = ("view", "click", "cart", "purchase", "wishlist", "return", "impression")

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "purchase": 5.0,
    "cart": 3.0,
    "wishlist": 2.0,
    "view": 1.0,
    "click": 1.0,
    "return": -5.0,
    "impression": 0.0,
}


@dataclass(frozen=True)
class BatchConfig:
    """Parameters of the nightly batch; each field maps to ``RECS_<FIELD NAME>``."""

    event_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    half_life_days: float = 30.0
    training_window_days: int = 90
    max_items_per_user: int = 500
    neighbours: int = 50
    shrinkage: float = 10.0
    num_recommendations: int = 50
    trending_half_life_days: float = 3.0
    trending_window_days: int = 14
    trending_size: int = 100
    model_ttl_days: int = 30

    def __post_init__(self) -> None:
        unknown = set(self.event_weights) - set(EVENT_TYPES)
        if unknown:
            raise ConfigError(f"RECS_EVENT_WEIGHTS: unknown event types {sorted(unknown)}")
        for name in ("half_life_days", "trending_half_life_days"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"RECS_{name.upper()}: must be > 0")
        for name in ("training_window_days", "max_items_per_user", "neighbours",
                     "num_recommendations", "trending_window_days", "trending_size",
                     "model_ttl_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"RECS_{name.upper()}: must be >= 1")
        if self.shrinkage < 0:
            raise ConfigError("RECS_SHRINKAGE: must be >= 0")

    def weight_of(self, event_type: str) -> float:
        return self.event_weights.get(event_type, 0.0)

    def as_dict(self) -> dict[str, object]:
        """The parameters as recorded beside each model version in the registry."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BatchConfig:
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            var = f"RECS_{f.name.upper()}"
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                if f.name == "event_weights":
                    weights = {**DEFAULT_EVENT_WEIGHTS, **json.loads(raw)}
                    kwargs[f.name] = {k: float(v) for k, v in weights.items()}
                elif f.type in ("int", int):
                    kwargs[f.name] = int(raw)
                else:
                    kwargs[f.name] = float(raw)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{var}: cannot parse {raw!r}") from exc
        return cls(**kwargs)  # type: ignore[arg-type]


def required_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A resource name the deployment must provide; a clear error when it does not."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value
