"""The demo storefront, read as a spec, in headless chromium against ``recs demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    SCREENSHOTS,
    SESSION_JS,
    Run,
    Shop,
    cards,
    drive,
    money,
    needs_browser,
    rid_of,
)

pytestmark = [pytest.mark.e2e, needs_browser]

HOME_SHOT = SCREENSHOTS / "storefront-home.png"
PRODUCT_SHOT = SCREENSHOTS / "storefront-product.png"


def shown(card: dict[str, Any]) -> tuple[str, str, str, str]:
    return card["item_id"], card["title"], card["reason"], card["tier"]


def listed(item: dict[str, Any]) -> tuple[str, str, str, str]:
    return item["item_id"], item["title"], item["reason"], item["tier"]


def assert_all_recorded(run: Run, session_id: str, user_id: str | None) -> None:
    """Every event carries the page's session (and shopper), and each answer the page heard
    says the API took every event (200; 207 is some, 400 none)."""
    assert run.events
    for post in run.events:
        for event in post["sent"]["events"]:
            assert event["session_id"] == session_id
            assert event.get("user_id") == user_id
        if post["status"] is not None:
            assert post["status"] == 200, post
        if post["answer"] is not None:
            assert post["answer"]["accepted"] == len(post["sent"]["events"]), post


def test_a_shopper_s_home_page_shows_their_recommendations_with_price_reason_and_tier(
    shop: Shop,
) -> None:
    user = shop.shopper(0)
    # What the API gives this shopper before the page shows (and so impresses) anything.
    answer = shop.api("/recommendations", user_id=user, num_items=12)
    trending = shop.api("/recommendations/trending", num_items=16)["items"]
    run = drive(shop, [
        {"goto": f"/?user_id={user}"},
        {"wait_for": "#new-arrivals .card"},
        cards("for_you", "#for-you"), cards("trending", "#trending"),
        cards("arrivals", "#new-arrivals"),
        {"collect": "session", "js": SESSION_JS},
        {"screenshot": str(HOME_SHOT)},
    ])
    assert run.errors == []
    session = run.results["session"]
    assert [shown(c) for c in run.results["for_you"]] == [
        listed(i) for i in answer["items"] if i["tier"] != "new_arrival"]
    assert run.results["for_you"], "a sample shopper has recommendations"
    assert all(card["reason"] for card in run.results["for_you"])
    assert [shown(c) for c in run.results["trending"]] == [listed(i) for i in trending[:8]]
    fresh = [i for i in answer["items"] if i["tier"] == "new_arrival"]
    assert [shown(c) for c in run.results["arrivals"]] == [
        listed(i) for i in (fresh or trending[8:])]
    for card in run.results["for_you"] + run.results["trending"] + run.results["arrivals"]:
        assert card["price"] == money(shop.catalog[card["item_id"]].get("price"))
        assert card["tier_shown"] == "Tier: " + card["tier"].replace("_", " ")
        assert rid_of(card["href"]), "each product link carries its recommendation_id"
    # Each card shown was one impression, credited to the list it was in.
    impressions = run.sent("impression")
    assert sorted((e["item_id"], e["recommendation_id"]) for e in impressions) == sorted(
        (c["item_id"], rid_of(c["href"]))
        for c in run.results["for_you"] + run.results["trending"] + run.results["arrivals"])
    assert_all_recorded(run, session, user)
    assert HOME_SHOT.stat().st_size > 10_000


def test_a_click_changes_the_next_recommendations_within_a_second(shop: Shop) -> None:
    user = shop.shopper(1)
    first = next(i for i in shop.api("/recommendations", user_id=user, num_items=12)["items"]
                 if i["tier"] != "new_arrival")
    because = f"Because you viewed {first['title']}"
    run = drive(shop, [
        {"goto": f"/?user_id={user}"},
        {"wait_for": "#for-you .card"},
        cards("before", "#for-you"),
        {"collect": "session", "js": SESSION_JS},
        {"click": "#for-you .card h3 a", "navigates": True},
        {"wait_for": "#similar .card"},
        cards("similar", "#similar"),
        {"collect": "heading", "js": "document.querySelector('h1').textContent"},
        {"screenshot": str(PRODUCT_SHOT)},
        {"back": True, "collect_ms": "back_ms"},
        {"wait_for": "#for-you .card[data-tier=session] .reason", "text": because,
         "timeout": 1000, "collect_ms": "shown_ms"},
        cards("after", "#for-you"),
    ])
    assert run.errors == []
    clicked = run.results["before"][0]
    assert clicked["item_id"] == first["item_id"]
    assert run.results["heading"] == first["title"]
    # Within a second of the back button the list names the product, first of all tiers.
    assert run.results["back_ms"] + run.results["shown_ms"] < 1000
    assert run.results["after"][0]["tier"] == "session"
    assert because in {card["reason"] for card in run.results["after"]}
    assert because not in {card["reason"] for card in run.results["before"]}

    # The API heard it by the session id alone: the session's own list says the same.
    session = run.results["session"]
    by_session = shop.api("/recommendations", session_id=session, num_items=12)["items"]
    assert any(i["reason"] == because and i["tier"] == "session" for i in by_session)

    # The click and the view name the list the product came from.
    (click,), (view,) = run.sent("click"), run.sent("view")
    for event in (click, view):
        assert (event["item_id"], event["recommendation_id"]) == (
            clicked["item_id"], rid_of(clicked["href"]))
    # The click was answered before the page left (the storefront waits for it): 200 is
    # POST /events' answer when it took every event.
    (click_post,) = [p for p in run.events if p["sent"]["events"] == [click]]
    assert click_post["status"] == 200

    assert run.results["similar"], "the product page shows what customers also viewed"
    for card in run.results["similar"]:
        assert card["tier"] == "trending" or (
            card["reason"] == f"Customers who liked {first['title']} also liked this")
    assert_all_recorded(run, session, user)
    assert PRODUCT_SHOT.stat().st_size > 10_000


def test_cart_and_checkout_post_cart_and_purchase_events_credited_to_the_list(
    shop: Shop,
) -> None:
    user = shop.shopper(2)
    run = drive(shop, [
        {"goto": f"/?user_id={user}"},
        {"wait_for": "#for-you .card"},
        cards("home", "#for-you"),
        {"collect": "session", "js": SESSION_JS},
        {"click": "#for-you .card h3 a", "navigates": True},
        {"click": "#product button"},
        {"wait_for": "#status", "text": "added to your cart"},
        {"collect": "count", "js": "document.getElementById('cart-count').textContent"},
        {"goto": "/cart.html"},
        {"collect": "lines", "js": "[...document.querySelectorAll('#cart-lines tr')].map("
                                   "(tr) => [...tr.children].map((td) => td.textContent))"},
        {"click": "a.button", "navigates": True},
        {"fill": "#name", "value": "Ada"},
        {"fill": "#email", "value": "ada@example.com"},
        {"click": "#checkout-form button"},
        {"wait_for": "#status", "text": "Thank you, Ada"},
        {"collect": "left", "js": "localStorage.getItem('recs.cart')"},
    ])
    assert run.errors == []
    item = run.results["home"][0]
    price = shop.catalog[item["item_id"]]["price"]
    assert run.results["count"] == "1"
    assert run.results["lines"] == [[item["title"], money(price), "1", "Remove"]]
    assert run.results["left"] is None, "the order empties the cart"
    rid = rid_of(item["href"])
    (cart,), (purchase,) = run.sent("cart"), run.sent("purchase")
    for event in (cart, purchase):
        assert (event["item_id"], event["recommendation_id"], event["price"],
                event["quantity"]) == (item["item_id"], rid, price, 1)
    assert_all_recorded(run, run.results["session"], user)


def test_a_category_page_shows_what_is_trending_in_it(shop: Shop) -> None:
    expected = shop.api("/recommendations/trending", category="electronics", num_items=12)
    run = drive(shop, [
        {"goto": "/category.html?category=electronics"},
        {"wait_for": "#category-trending .card"},
        cards("items", "#category-trending"),
        {"collect": "heading", "js": "document.querySelector('h1').textContent"},
        {"collect": "session", "js": SESSION_JS},
    ])
    assert run.errors == []
    assert run.results["heading"] == "electronics"
    assert [shown(c) for c in run.results["items"]] == [listed(i) for i in expected["items"]]
    # The category's own trending first; past its items, the shop's.
    tiers = [c["tier"] for c in run.results["items"]]
    assert tiers[0] == "category_trending"
    assert tiers == sorted(tiers, key=["category_trending", "trending"].index)
    assert all(shop.catalog[c["item_id"]]["category"].startswith("electronics/")
               for c in run.results["items"] if c["tier"] == "category_trending")
    assert_all_recorded(run, run.results["session"], None)


def test_the_picker_switches_shopper_or_starts_a_new_anonymous_session(shop: Shop) -> None:
    first, second = shop.shopper(3), shop.shopper(4)
    where = ("({user: localStorage.getItem('recs.user_id'), session: "
             f"{SESSION_JS}, search: location.search, "
             "chosen: document.getElementById('shopper').value})")
    run = drive(shop, [
        {"goto": f"/?user_id={first}"},
        {"collect": "first", "js": where},
        {"select": "#shopper", "value": second},
        {"click": ".picker button", "navigates": True},
        {"wait_for": "#for-you .card"},
        {"collect": "second", "js": where},
        {"select": "#shopper", "value": ""},
        {"click": ".picker button", "navigates": True},
        {"wait_for": "#for-you .card"},
        {"collect": "anonymous", "js": where},
        cards("anonymous_cards", "#for-you"),
    ])
    assert run.errors == []
    one, two, nobody = (run.results[k] for k in ("first", "second", "anonymous"))
    assert (one["user"], one["chosen"]) == (first, first)
    assert (two["user"], two["chosen"], two["search"]) == (second, second, f"?user_id={second}")
    assert (nobody["user"], nobody["chosen"], nobody["search"]) == (None, "", "")
    assert len({one["session"], two["session"], nobody["session"]}) == 3, "a new session each"
    # A new visitor with no history still gets a list: the popular items.
    assert {c["tier"] for c in run.results["anonymous_cards"]} <= {
        "trending", "category_trending", "new_arrival"}
    assert {e.get("user_id") for e in run.sent() if e["session_id"] == nobody["session"]} == {
        None}


# Every image has alt text (empty for the decorative category pictures), every field a
# label, every focusable control a name; the landmarks; and marks each focusable element
# (data-probe) for the Tab walk.
AUDIT_JS = (Path(__file__).parent / "audit.js").read_text()


PAGES = ("/?user_id={user}", "/product.html?item_id={item}", "/category.html?category=books",
         "/cart.html", "/checkout.html")


def test_every_page_is_usable_with_a_keyboard_and_a_screen_reader(shop: Shop) -> None:
    item = next(iter(shop.catalog))
    steps: list[dict[str, Any]] = []
    for number, page in enumerate(PAGES):
        if number == 1:  # the shopper chosen, something in the cart: its table, the form
            steps += [{"goto": f"/product.html?item_id={item}"}, {"click": "#product button"}]
        steps += [
            {"goto": page.format(user=shop.shopper(5), item=item)},
            {"wait_for": "#site-header nav"},
            {"collect": f"audit{number}", "js": AUDIT_JS},
            {"tab": "document.querySelectorAll('[data-probe]').length",
             "collect": f"focused{number}"},
        ]
    run = drive(shop, steps)
    assert run.errors == []
    for number, page in enumerate(PAGES):
        audit, focused = run.results[f"audit{number}"], run.results[f"focused{number}"]
        assert audit["images"] > 0, page
        assert audit["images_without_alt"] == [], page
        assert audit["unlabelled_fields"] == [], page
        assert audit["nameless_controls"] == [], page
        assert audit["landmarks"] == ["header", "nav", "main", "footer"], page
        assert (audit["h1"], audit["lang"]) == (1, "en"), page
        assert focused[0]["text"] == "Skip to content", page
        assert {f["probe"] for f in focused} == {str(i) for i in range(audit["focusable"])}, page
    assert run.results["audit4"]["focusable"] > run.results["audit3"]["focusable"] > 0, (
        "the checkout's fields and the cart's buttons are among them")
