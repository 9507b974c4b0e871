"""A precomputed list as the recommendations table stores it: the row every engine makes
(the single-node export, the Spark job's row files) and every store writes and reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecRow:
    """One precomputed list under a key of ``recs.contracts.keys`` (``U#alice``, ``I#sku1``,
    ``POP#global``, ...).

    ``items`` holds entries laid out as ``recs.contracts.keys.Entry`` (lists or the tuple
    itself); it is stored as one JSON string so the API decodes a whole list in one
    ``json.loads``, and read back as lists. ``history``, on a shopper's row only, holds the
    items of their nightly history (``recs.contracts.keys.HISTORY``), which a list that
    leaves out everything the shopper saw reads beside their entries.
    """

    key: str
    version: str
    items: Sequence[Sequence[Any]]
    expires_at: int = 0
    history: Sequence[str] = ()
