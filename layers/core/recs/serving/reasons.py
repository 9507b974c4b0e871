"""Human reasons for recommended items."""

from __future__ import annotations

from recs.contracts.events import KIND


def because(event: str, item_title: str) -> str:
    """"Because you bought Rice" and the like, from the strongest event on the item."""
    kind = KIND.get(event)
    verb = kind.because if kind else "viewed"
    if "{item}" in verb:
        return f"Because you {verb.format(item=item_title)}"
    return f"Because you {verb} {item_title}"


def again(event: str) -> str:
    """The reason of an item recommended because of the shopper's own history with it."""
    kind = KIND.get(event)
    return (kind.again if kind else None) or "You looked at this recently"


def similar_to(item_title: str) -> str:
    return f"Customers who liked {item_title} also liked this"


def alike(item_title: str) -> str:
    """A new item's neighbour by what the catalog says of both: no shopper linked them yet."""
    return f"Similar to {item_title}"


def trending(category: str | None = None) -> str:
    return f"Trending in {category}" if category else "Trending now"


def new_arrival(category: str | None = None) -> str:
    return f"New in {category}" if category else "New arrival"
