"""The behaviour-event contract: what ingest accepts, the lander writes and the batch reads.

The validation that produces an ``Event`` lives in ``recs.intake.validation``; its Parquet
form in ``recs.formats.event_files``.
"""

from __future__ import annotations

from typing import Any

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


# The normalised event: what ingest enqueues and the lander writes as one Parquet row.
Event = dict[str, Any]
