"""Tunable settings, read from the environment once per cold start.

Plain dataclasses rather than pydantic-settings: parsing a dozen variables by hand costs
nothing at cold start. Every bad value raises ``ConfigError`` naming the variable, so a
misconfigured deployment fails loudly at init (and at ``cdk synth``, which reads the
deployment's settings through ``from_env``).

The algorithm settings are checked against the algorithms' own declarations
(``recs.algorithms.catalog``, standard library only: the weight function's layers carry no
scipy): which names ``RECS_ALGORITHM`` and ``RECS_DISCOVERY`` may take, each setting's
bounds, and that a variable named for an algorithm (``RECS_ALS_...``) is a setting one of
them declares.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from recs.algorithms import catalog
from recs.contracts.events import DEFAULT_EVENT_WEIGHTS, EVENT_TYPES
from recs.exceptions import ConfigError

ENGINES = ("auto", "lambda", "spark")


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
    # Days a version's rows stay stored after it stopped being live (how far back a rollback
    # reaches); the live version's rows never expire (``recs.batch.retire``).
    model_ttl_days: int = 30
    # Which model trains the user lists (a name of recs.algorithms.catalog, or "a+b"), and
    # its parameters: each algorithm declares which of the fields below set which of its
    # parameters, and their bounds.
    algorithm: str = "blend"
    # The blend's model of items new to the user; "a+b" sums two models' scores, each
    # normalised per user, ``ensemble_weight`` being the first one's share.
    discovery: str = "rp3beta"
    ensemble_weight: float = 0.5
    # Shoppers with at most ``short_history_items`` items in the window get the blend with
    # this discovery model instead ("": the same as everyone): three clicks hold too little
    # for an item-item model, while the past shoppers or sessions that share them do not.
    # The nightly tuning sets it only where it beats the main choice on validation shoppers
    # that short (``recs.batch.evaluation.tuning``).
    short_discovery: str = ""
    short_history_items: int = 3
    blend_weight: float = 0.5  # repeat weight where no category weight applies
    blend_category_weights: dict[str, float] = field(default_factory=dict)
    blend_popularity: float = 0.0  # share of global popularity in the discovery score
    cosine_alpha: float = 0.5
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    swing_alpha: float = 1.0
    rp3_alpha: float = 0.5
    rp3_beta: float = 0.25
    # EASE: L2 penalty, and how many of the most popular items get the dense solve (memory
    # 8 x N^2 bytes, time O(N^3)); the rest fall back to RP3beta.
    ease_l2: float = 200.0
    ease_max_items: int = 8000
    # Implicit ALS (numpy, conjugate gradient): factors, L2 penalty, confidence scale
    # (c = 1 + alpha * weight), alternating iterations.
    als_factors: int = 64
    als_regularization: float = 0.01
    als_alpha: float = 1.0
    als_iterations: int = 15
    tuning_seconds: float = 120.0  # time box of the nightly tuning grid; 0 turns tuning off
    # Larger windows are tuned on a hashed sample of whole user histories of about this many
    # events, so the grid fits in the time box (the chosen model still trains on everything).
    tuning_max_events: int = 300_000
    # The promotion gate: the candidate may be at most this much worse (relative NDCG@20)
    # than the live model on the last ``holdout_days`` before the run's date.
    gate_margin: float = 0.05
    holdout_days: float = 1.0
    # Event files and catalog lines the weight step cannot read are skipped and reported;
    # past this share of the bytes of either kind the run fails instead (0: any unreadable
    # byte fails it; an empty file holds none).
    max_unreadable_share: float = 0.1
    # Which engine trains a window (``recs.batch.engine``): "auto" sends windows of at least
    # ``spark_min_events`` events to the Spark job on EMR Serverless and the rest to the
    # Lambda steps; "lambda" and "spark" force one. Every Lambda step fits the default window
    # with room, extrapolated from benchmarks/training.py at 20 M events (each step's peak
    # under 2 GB there, the tuned train step 49 s): tests/unit/test_step_sizing.py holds the
    # deployed memory and timeouts to it, so raising it makes that test ask for more memory.
    engine: str = "auto"
    spark_min_events: int = 30_000_000
    # Processes making and writing the export's rows at once (the Lambda's vCPUs; the stack
    # sets it). One runs in the step's own process; more fork, each writing through its own
    # client, which needs a table every process reaches (not an in-process moto).
    export_processes: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.event_weights) - set(EVENT_TYPES)
        if unknown:
            raise ConfigError(f"RECS_EVENT_WEIGHTS: unknown event types {sorted(unknown)}")
        for name in ("half_life_days", "trending_half_life_days"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"RECS_{name.upper()}: must be > 0")
        for name in ("training_window_days", "max_items_per_user", "num_recommendations",
                     "trending_window_days", "trending_size", "model_ttl_days",
                     "tuning_max_events", "export_processes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"RECS_{name.upper()}: must be >= 1")
        if (self.algorithm not in catalog.configurable_names()
                and not catalog.is_ensemble(self.algorithm)):
            raise ConfigError(
                f"RECS_ALGORITHM: must be one of {catalog.configurable_names()}, or distinct "
                f"ones of {catalog.discovery_names()} joined with '{catalog.SEPARATOR}'")
        if self.short_discovery and not catalog.is_discovery(self.short_discovery):
            raise ConfigError(
                f"RECS_SHORT_DISCOVERY: must be empty, one of {catalog.discovery_names()}, or "
                f"distinct ones joined with '{catalog.SEPARATOR}'")
        if self.short_discovery and not catalog.discovery_choices(self.algorithm):
            raise ConfigError(f"RECS_SHORT_DISCOVERY: {self.algorithm!r} has no discovery "
                              "part to replace for short histories")
        if self.short_history_items < 0:
            raise ConfigError("RECS_SHORT_HISTORY_ITEMS: must be >= 0")
        for setting, problem in catalog.setting_problems(self.as_dict()):
            raise ConfigError(f"RECS_{setting.upper()}: {problem}")
        bad = {k: v for k, v in self.blend_category_weights.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ConfigError(f"RECS_BLEND_CATEGORY_WEIGHTS: values must lie in [0, 1]: {bad}")
        if self.holdout_days <= 0:
            raise ConfigError("RECS_HOLDOUT_DAYS: must be > 0")
        for name in ("tuning_seconds", "gate_margin"):
            if getattr(self, name) < 0:
                raise ConfigError(f"RECS_{name.upper()}: must be >= 0")
        if self.engine not in ENGINES:
            raise ConfigError(f"RECS_ENGINE: must be one of {list(ENGINES)}, got {self.engine!r}")
        if self.spark_min_events < 1:
            raise ConfigError("RECS_SPARK_MIN_EVENTS: must be >= 1")
        if not 0.0 <= self.max_unreadable_share <= 1.0:
            raise ConfigError("RECS_MAX_UNREADABLE_SHARE: must lie in [0, 1]")

    def fits_on_sessions(self) -> bool:
        """Whether the model, or the one for short histories, fits on the window's sessions
        (the weighting then makes them: ``recs.batch.sessions``)."""
        settings = self.as_dict()
        return catalog.fits_on_sessions(self.algorithm, settings) or (bool(
            self.short_discovery) and catalog.fits_on_sessions(self.short_discovery, settings))

    def weight_of(self, event_type: str) -> float:
        return self.event_weights.get(event_type, 0.0)

    def as_dict(self) -> dict[str, object]:
        """The parameters as recorded beside each model version in the registry."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BatchConfig:
        """The settings from ``RECS_*`` variables; an unset or empty one keeps its default.

        A variable named for an algorithm or its settings' group (``RECS_ALS_FACTORZ``,
        ``RECS_RP3BETA_ALPHA``) that is no setting is refused rather than ignored."""
        env = os.environ if environ is None else environ
        known = {f"RECS_{f.name.upper()}" for f in fields(cls)}
        groups = catalog.setting_prefixes()
        stray = sorted(var for var in env if var.startswith("RECS_") and var not in known
                       and var[len("RECS_"):].lower().split("_", 1)[0] in groups)
        if stray:
            names = sorted(f"RECS_{s.upper()}" for s in catalog.setting_params())
            raise ConfigError(f"{stray[0]}: no algorithm declares this setting; the algorithm "
                              f"settings are {names}")
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
                elif f.name == "blend_category_weights":
                    parsed = json.loads(raw)
                    if not isinstance(parsed, dict):
                        raise TypeError("expected a JSON object")
                    kwargs[f.name] = {str(k): float(v) for k, v in parsed.items()}
                elif f.type in ("str", str):
                    kwargs[f.name] = raw.strip()
                elif f.type in ("int", int):
                    kwargs[f.name] = int(raw)
                else:
                    kwargs[f.name] = float(raw)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{var}: cannot parse {raw!r}") from exc
        return cls(**kwargs)  # type: ignore[arg-type]
