"""The behaviour-event contract: what ingest accepts, the lander writes and the batch reads.

The validation that produces an ``Event`` lives in ``recs.intake.validation``; its Parquet
form in ``recs.formats.event_files``, whose columns are these fields.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

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


class Event(TypedDict):
    """The normalised event: what ingest enqueues and the lander writes as one Parquet row.

    Every field is present; None means the shop did not send it. At least one of
    ``user_id`` and ``session_id`` is set.
    """

    event_id: str
    user_id: str | None
    session_id: str | None
    item_id: str
    event_type: str  # one of EVENT_TYPES
    ts: int  # epoch milliseconds, UTC
    quantity: int | None
    price: float | None
    recommendation_id: str | None  # the item's id from a recommendation, for attribution
    category: str | None
    context: str | None  # the shop's context object as compact JSON text
    received_at: NotRequired[int]  # epoch ms; ingest sets it when it accepts the event
