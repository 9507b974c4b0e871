"""An experiment as an operator declares it (``POST /experiments``), checked field by field.

Every rejection names the field (``variants[1].weight``) and says what would be accepted,
so an operator fixes a request in one try; nothing half-valid reaches the registry.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from recs.contracts.experiments import (
    METRICS,
    SERVING_OVERRIDES,
    SURFACES,
    UNITS,
    Experiment,
    Surface,
    Unit,
    Variant,
)
from recs.exceptions import ValidationError

MAX_VARIANTS = 10
MAX_NAME = 128
_FIELDS = frozenset({"name", "surface", "unit", "variants", "minimum_detectable_effect",
                     "primary_metric"})
_VARIANT_FIELDS = frozenset({"name", "weight", "control", "model_version", "settings"})


def experiment_id(now: datetime) -> str:
    """``20261130T164100-3f9a1c``: sorts by creation time, unique without coordination."""
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def validate_experiment(raw: Any, now: datetime | None = None) -> Experiment:
    """The experiment ``raw`` declares, running from ``now``, or a ValidationError."""
    now = now or datetime.now(UTC)
    if not isinstance(raw, dict):
        raise ValidationError("body", "must be a JSON object")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ValidationError(unknown[0], "is not a known experiment field")
    name = _text(raw.get("name"), "name", MAX_NAME)
    surface = _choice(raw.get("surface", "recommendations"), "surface", SURFACES)
    unit = _choice(raw.get("unit", "user"), "unit", UNITS)
    metric = _choice(raw.get("primary_metric", "ctr"), "primary_metric", METRICS)
    mde = _number(raw.get("minimum_detectable_effect", 0.05), "minimum_detectable_effect")
    if not 0 < mde <= 10:
        raise ValidationError("minimum_detectable_effect",
                              "must be a relative effect in (0, 10], e.g. 0.05 for +5 %")
    variants = _variants(raw.get("variants"))
    return Experiment(id=experiment_id(now), name=name, surface=cast(Surface, surface),
                      unit=cast(Unit, unit), variants=variants,
                      minimum_detectable_effect=mde, primary_metric=metric, status="running",
                      created_at=now.isoformat(timespec="seconds"))


def _variants(raw: Any) -> list[Variant]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_VARIANTS:
        raise ValidationError("variants", f"must be a list of 2 to {MAX_VARIANTS} variants")
    variants: list[Variant] = []
    for index, entry in enumerate(raw):
        where = f"variants[{index}]"
        if not isinstance(entry, dict):
            raise ValidationError(where, "must be a JSON object")
        unknown = sorted(set(entry) - _VARIANT_FIELDS)
        if unknown:
            raise ValidationError(f"{where}.{unknown[0]}", "is not a known variant field")
        variant = Variant(name=_text(entry.get("name"), f"{where}.name", 64),
                          weight=_number(entry.get("weight", 1), f"{where}.weight"))
        if variant["weight"] <= 0:
            raise ValidationError(f"{where}.weight", "must be > 0")
        control = entry.get("control", False)
        if not isinstance(control, bool):
            raise ValidationError(f"{where}.control", "must be true or false")
        if control:
            if "model_version" in entry or "settings" in entry:
                raise ValidationError(f"{where}.control",
                                      "a control serves trending: no model_version or settings")
            variant["control"] = True
        if "model_version" in entry:
            variant["model_version"] = _text(entry["model_version"], f"{where}.model_version",
                                             64)
        if "settings" in entry:
            variant["settings"] = _settings(entry["settings"], f"{where}.settings")
        variants.append(variant)
    names = [v["name"] for v in variants]
    if len(set(names)) != len(names):
        raise ValidationError("variants", "variant names must be unique")
    if sum(1 for v in variants if v.get("control")) > 1:
        raise ValidationError("variants", "at most one variant may be the control")
    return variants


def _settings(raw: Any, where: str) -> dict[str, float | int]:
    if not isinstance(raw, dict):
        raise ValidationError(where, "must be a JSON object")
    settings: dict[str, float | int] = {}
    for key, value in raw.items():
        if key not in SERVING_OVERRIDES:
            raise ValidationError(f"{where}.{key}",
                                  f"is not a serving setting a variant may change "
                                  f"({', '.join(SERVING_OVERRIDES)})")
        whole, low, high = SERVING_OVERRIDES[key]
        number = _number(value, f"{where}.{key}")
        if whole and number != int(number):
            raise ValidationError(f"{where}.{key}", "must be a whole number")
        if not low <= number <= high:
            raise ValidationError(f"{where}.{key}", f"must lie in [{low:g}, {high:g}]")
        settings[key] = int(number) if whole else number
    if settings.get("new_arrival_share", 0) + settings.get("long_tail_share", 0) > 1:
        raise ValidationError(where, "new_arrival_share + long_tail_share must be <= 1")
    return settings


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "is required and must be a non-empty string")
    text = value.strip()
    if len(text) > limit:
        raise ValidationError(field, f"must be at most {limit} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(field, "must be valid Unicode text") from exc
    return text


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(allowed)}")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(field, "must be a finite number")
    return float(value)
