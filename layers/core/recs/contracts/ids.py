"""Identifiers: model versions that sort by time, and recommendation ids for attribution."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any


def model_version(as_of: date, inputs: Iterable[str], params: dict[str, Any]) -> str:
    """``20261123-<hash>``: the date sorts versions; the hash of the input files and the
    parameters makes a re-run of the same day on the same data the same version."""
    digest = hashlib.sha256()
    for key in sorted(inputs):
        digest.update(key.encode())
        digest.update(b"\n")
    digest.update(json.dumps(params, sort_keys=True).encode())
    return f"{as_of:%Y%m%d}-{digest.hexdigest()[:10]}"


def recommendation_id(version: str | None = None) -> str:
    """``<random>.<model version>``, fresh per response; each item adds ``.<tier>``.

    An event that carries an item's id attributes itself to the response, the model version
    and the tier without any lookup.
    """
    return f"{uuid.uuid4().hex[:16]}.{version or 'none'}"


def parse_recommendation_id(value: str) -> tuple[str, str, str]:
    """(response id, model version, tier) of an item's recommendation id; "" when absent."""
    parts = value.split(".")
    return (parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")


def log_id(value: str | None) -> str:
    """How a user, session or item id (or a key holding one) appears in warning logs:
    ``#`` and the first 12 hex digits of its SHA-256, so logs hold no id in clear. An operator
    who knows an id finds its lines by hashing it the same way. Unsalted: it keeps ids out of
    sight, it is no secret against someone who can guess and hash candidate ids."""
    if value is None:
        return "-"
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
