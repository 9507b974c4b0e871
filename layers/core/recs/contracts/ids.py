"""Identifiers: model versions that sort by time, and recommendation ids for attribution."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple


def model_version(as_of: date, inputs: Iterable[str], params: dict[str, Any]) -> str:
    """``20261123-<hash>``: the date sorts versions; the hash of the input files and the
    parameters makes a re-run of the same day on the same data the same version."""
    digest = hashlib.sha256()
    for key in sorted(inputs):
        digest.update(key.encode())
        digest.update(b"\n")
    digest.update(json.dumps(params, sort_keys=True).encode())
    return f"{as_of:%Y%m%d}-{digest.hexdigest()[:10]}"


class Arm(NamedTuple):
    """The experiment arm an answer was served in, as its ``recommendation_id`` carries it:
    the experiment's id, the variant's position in its ``variants`` and the unit kind
    (``u`` user, ``s`` session), so ingest attributes an event without reading anything."""

    experiment: str
    variant: int
    unit: str


class RecommendationRef(NamedTuple):
    """What an item's recommendation id says: response, model version, tier, and the arm."""

    response: str
    version: str
    tier: str
    arm: Arm | None


def recommendation_id(version: str | None = None, arm: Arm | None = None) -> str:
    """``<random>.<model version>[.<experiment>~<variant>~<unit>]``, fresh per response; each
    item adds ``.<tier>``.

    An event that carries an item's id attributes itself to the response, the model version,
    the tier and (in an experiment) the arm without any lookup. Model versions and
    experiment ids hold no ``.`` or ``~``; variants go by position, since names are free text.
    """
    rid = f"{uuid.uuid4().hex[:16]}.{version or 'none'}"
    return f"{rid}.{arm.experiment}~{arm.variant}~{arm.unit}" if arm else rid


_ARM = re.compile(r"([0-9A-Za-z-]{1,64})~([0-9]{1,2})~([us])")


def parse_recommendation_id(value: str) -> RecommendationRef:
    """The parts of an item's (or a list's) recommendation id; "" and None when absent. An
    arm that is not well formed is None: a shop's garbled id attributes to no experiment."""
    parts = value.split(".")
    response = parts[0]
    version = parts[1] if len(parts) > 1 else ""
    arm = None
    if len(parts) > 2 and (match := _ARM.fullmatch(parts[2])):
        arm = Arm(match[1], int(match[2]), match[3])
        parts = parts[:2] + parts[3:]
    tier = parts[2] if len(parts) > 2 else ""
    return RecommendationRef(response, version, tier, arm)


def log_id(value: str | None) -> str:
    """How a user, session or item id (or a key holding one) appears in warning logs:
    ``#`` and the first 12 hex digits of its SHA-256, so logs hold no id in clear. An operator
    who knows an id finds its lines by hashing it the same way. Unsalted: it keeps ids out of
    sight, it is no secret against someone who can guess and hash candidate ids."""
    if value is None:
        return "-"
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
