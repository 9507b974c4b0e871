"""The behaviour-event contract: what ingest accepts, the lander writes and the batch reads.

The validation that produces an ``Event`` lives in ``recs.intake.validation``; its Parquet
form in ``recs.formats.event_files``, whose columns are these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict


@dataclass(frozen=True)
class EventKind:
    """Everything the product knows about one event type, so a new type is one line here.

    Validation, the batch's default weights, the intent ranking that picks a reason's verb,
    the read path's engagement and impression rules and the reasons' words all derive from
    ``KINDS``.
    """

    name: str
    weight: float  # default weight in the nightly batch (RECS_EVENT_WEIGHTS overrides it)
    intent: int | None  # how much intent it shows; None: it never names a reason
    engaged: bool  # the shopper acted on the item, so showing it often is not ignoring it
    exposure: bool = False  # the item was only shown (an impression), not acted on
    because: str = "viewed"  # "Because you {because} {item}"; ``{item}`` places the title
    again: str | None = None  # the reason when the shopper's own item comes back


KINDS: tuple[EventKind, ...] = (
    EventKind("view", 1.0, intent=1, engaged=True),
    EventKind("click", 1.0, intent=2, engaged=True),
    EventKind("cart", 3.0, intent=4, engaged=True, because="added {item} to your cart",
              again="Still in your cart"),
    EventKind("purchase", 5.0, intent=5, engaged=True, because="bought", again="Buy it again"),
    EventKind("wishlist", 2.0, intent=3, engaged=True, because="saved",
              again="On your wishlist"),
    EventKind("return", -5.0, intent=None, engaged=False),
    EventKind("impression", 0.0, intent=0, engaged=False, exposure=True),
)
KIND = {kind.name: kind for kind in KINDS}

EVENT_TYPES = tuple(kind.name for kind in KINDS)
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {kind.name: kind.weight for kind in KINDS}
# Weakest first: a model stores the strongest event a shopper had with an item as its
# position here, and the export turns it back into the reason's verb.
EVENT_RANK = tuple(kind.name for kind in sorted(
    (k for k in KINDS if k.intent is not None), key=lambda k: k.intent or 0))
ENGAGED = frozenset(kind.name for kind in KINDS if kind.engaged)
EXPOSURES = frozenset(kind.name for kind in KINDS if kind.exposure)


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
