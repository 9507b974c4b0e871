"""Human reasons for recommended items."""

from __future__ import annotations

_VERBS = {
    "purchase": "bought",
    "cart": "added {item} to your cart",
    "wishlist": "saved",
    "click": "viewed",
    "view": "viewed",
}


def because(event: str, item_title: str) -> str:
    """"Because you bought Rice" and the like, from the strongest event on the item."""
    verb = _VERBS.get(event, "viewed")
    if "{item}" in verb:
        return f"Because you {verb.format(item=item_title)}"
    return f"Because you {verb} {item_title}"


_AGAIN = {
    "purchase": "Buy it again",
    "cart": "Still in your cart",
    "wishlist": "On your wishlist",
}


def again(event: str) -> str:
    """The reason of an item recommended because of the shopper's own history with it."""
    return _AGAIN.get(event, "You looked at this recently")


def similar_to(item_title: str) -> str:
    return f"Customers who liked {item_title} also liked this"


def trending(category: str | None = None) -> str:
    return f"Trending in {category}" if category else "Trending now"


def new_arrival(category: str | None = None) -> str:
    return f"New in {category}" if category else "New arrival"
