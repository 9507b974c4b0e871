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


def recommendation_id() -> str:
    """A fresh id for one response; events that carry it attribute clicks and purchases."""
    return uuid.uuid4().hex
