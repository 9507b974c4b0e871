"""What the operator console reads that no other route serves: data health and attribution.

Each fact is counted where it is known, once per UTC day, into one row per day
(``recs.contracts.keys`` "operations rows"):

- **health**: ingest adds the events it answered for (``accepted``, ``rejected``,
  ``duplicates``: a request's repeats of an event id) on the day it answered; the lander adds
  the events it ``landed`` and the messages it ``quarantined`` (filed under
  ``events-rejected/``, counted on their first receive only, as SQS hands a refused message
  back until the dead-letter queue takes it). The counters are best effort: a write that
  fails is lost, never retried into the answer's time.
- **attribution**: the nightly attribution step stores, per day, model version and tier, the
  distinct (recommendation id, item) pairs impressed, clicked, carted and bought, recounted
  from the lake each night for the days it reads (late events included). The rules are
  ``recs_local.attribution``'s: an item clicked twice in one list counts once.

``GET /ops/health`` and ``GET /ops/attribution`` (admin) answer the last days of both.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from typing import Any

from recs.contracts import metrics

INGEST_COUNTS = ("accepted", "rejected", "duplicates")
LANDER_COUNTS = ("landed", "quarantined")
HEALTH_COUNTS = INGEST_COUNTS + LANDER_COUNTS
ATTRIBUTION_COUNTS = ("impressions", "clicks", "carts", "purchases")
DEFAULT_DAYS = 14
MAX_DAYS = 90
# A shop's garbled recommendation ids must not grow a day's row without bound: a version that
# is not ``recs.contracts.ids.model_version``'s shape, or a tier that is none of ours, counts
# as ``other`` (as the API's metrics count them), and a list's own id (no tier) as ``none``.
_VERSION = re.compile(r"[0-9]{8}-[0-9a-f]{10}")
_TIERS = frozenset(metrics.TIERS)
NO_TIER = "none"


@dataclass(frozen=True)
class DayHealth:
    """One UTC day's counters; a day nothing was counted on is all zeros."""

    day: str  # yyyy-mm-dd
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    landed: int = 0
    quarantined: int = 0

    @property
    def rejected_share(self) -> float | None:
        """Of the events a request sent, the share refused; None when none were sent."""
        sent = self.accepted + self.rejected
        return self.rejected / sent if sent else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rejected_share": _rounded(self.rejected_share)}


@dataclass(frozen=True)
class TierCounts:
    """Distinct recommended items impressed, clicked, carted and bought for one model version
    and tier (over a day or a span of days)."""

    version: str
    tier: str
    impressions: int = 0
    clicks: int = 0
    carts: int = 0
    purchases: int = 0

    @property
    def ctr(self) -> float | None:
        """Clicks per impression; None before any impression."""
        return self.clicks / self.impressions if self.impressions else None

    @property
    def conversion(self) -> float | None:
        """Purchases per click (``recs_local.attribution``'s); None before any click."""
        return self.purchases / self.clicks if self.clicks else None

    def __add__(self, other: TierCounts) -> TierCounts:
        return TierCounts(self.version, self.tier, *(
            getattr(self, name) + getattr(other, name) for name in ATTRIBUTION_COUNTS))

    def row(self) -> list[Any]:
        """The stored form: ``[version, tier, impressions, clicks, carts, purchases]``."""
        return [self.version, self.tier, *(getattr(self, name) for name in ATTRIBUTION_COUNTS)]

    @classmethod
    def from_row(cls, row: list[Any]) -> TierCounts:
        version, tier, *counts = row
        if len(counts) != len(ATTRIBUTION_COUNTS):
            raise ValueError(f"an attribution row has {len(counts)} counts")
        return cls(str(version), str(tier), *(int(count) for count in counts))

    def to_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)},
                "ctr": _rounded(self.ctr), "conversion": _rounded(self.conversion)}


def bounded(version: str, tier: str) -> tuple[str, str]:
    """The (version, tier) a recommendation id's parts count under."""
    if version != metrics.NO_VERSION and not _VERSION.fullmatch(version):
        version = metrics.OTHER if version else metrics.NO_VERSION
    if tier not in _TIERS:
        tier = metrics.OTHER if tier else NO_TIER
    return version, tier


def day_of(epoch_ms: int) -> str:
    """The UTC day (yyyy-mm-dd) of an instant in epoch milliseconds."""
    return (date(1970, 1, 1) + timedelta(milliseconds=epoch_ms)).isoformat()


def last_days(today: date, days: int) -> list[str]:
    """The ``days`` UTC days up to ``today`` (included), oldest first."""
    return [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


def totals(cells: list[TierCounts]) -> list[TierCounts]:
    """Per (version, tier) over every day given: newest version first (``none`` and
    ``other`` last), then by tier."""
    summed: dict[tuple[str, str], TierCounts] = {}
    for cell in cells:
        key = (cell.version, cell.tier)
        summed[key] = summed[key] + cell if key in summed else cell
    ordered = sorted(sorted(summed.values(), key=lambda c: c.tier),
                     key=lambda c: c.version, reverse=True)
    return sorted(ordered, key=lambda c: not _VERSION.fullmatch(c.version))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
