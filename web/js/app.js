// What every page shares: settings, the shopper, the API and the tracker; the header with
// its navigation, cart count and shopper picker; lists of item cards that record their
// impressions, clicks and adds to cart; and a status line for what happened.

import { createApi } from "./api.js";
import { addToCart, cartCount } from "./cart.js";
import { loadSettings } from "./config.js";
import { el, itemCard, categoryUrl, topCategory } from "./render.js";
import { currentShopper, switchShopper } from "./shopper.js";
import { createTracker } from "./tracking.js";

const CLICK_WAIT_MS = 300;

export async function start(page) {
  const { config, catalog } = await loadSettings();
  const shopper = currentShopper();
  const api = createApi(config);
  const tracker = createTracker(api, shopper);
  const app = { page, config, catalog, shopper, api, tracker };

  /** An item as the API answered it, with its price from the catalog. */
  app.priced = (item) => ({ ...item, price: catalog.get(item.item_id)?.price ?? item.price });

  app.addToCart = (item) => {
    addToCart({ item_id: item.item_id, title: item.title ?? item.item_id, category: item.category,
      price: item.price, recommendation_id: item.recommendation_id });
    tracker.track("cart", item, { quantity: 1, ...(item.price != null && { price: item.price }) });
    updateCartCount();
    app.say(`${item.title ?? item.item_id} added to your cart.`);
  };

  /** Fill a list's container with cards, or say it is empty; impressions go out batched. */
  app.fill = (container, items, empty = "Nothing to show here yet.") => {
    const priced = items.map(app.priced);
    container.replaceChildren(...(priced.length
      ? priced.map((item) => el("li", {}, itemCard(item, {
        onOpen: (it, event) => open(tracker, it, event),
        onAdd: app.addToCart,
      })))
      : [el("li", { class: "empty" }, empty)]));
    container.setAttribute("aria-busy", "false");
    tracker.shown(priced);
  };

  app.say = (message) => {
    document.getElementById("status").textContent = message;
  };

  /** Show what went wrong where the content would be, in words. */
  app.fail = (container, error) => {
    container.replaceChildren(el("li", { class: "empty" },
      `Recommendations are unavailable right now (${error.message}).`));
    container.setAttribute("aria-busy", "false");
  };

  header(app);
  return app;
}

/** A click on an item: the event first (at most CLICK_WAIT_MS), so the next page's lists
 * already know it; a click that opens another tab leaves this page and sends it alongside. */
function open(tracker, item, event) {
  const sent = tracker.track("click", item);
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  const href = event.currentTarget.href;
  Promise.race([sent, new Promise((done) => setTimeout(done, CLICK_WAIT_MS))])
    .then(() => location.assign(href));
}

function header({ config, catalog, shopper }) {
  const categories = [...new Set([...catalog.values()].map((i) => topCategory(i.category)))]
    .filter(Boolean).sort();
  const shoppers = [...new Set([...(config.shoppers ?? []), shopper.userId].filter(Boolean))];
  const picker = el("form", { class: "picker", onsubmit: (event) => {
    event.preventDefault();
    const chosen = event.target.elements.shopper.value;
    switchShopper(chosen || null);
    location.assign(chosen ? `./?${new URLSearchParams({ user_id: chosen })}` : "./");
  } },
  el("label", { for: "shopper" }, "Shopping as"),
  el("select", { id: "shopper", name: "shopper" },
    el("option", { value: "", selected: !shopper.userId }, "A new anonymous session"),
    shoppers.map((id) => el("option", { value: id, selected: id === shopper.userId }, id))),
  el("button", { type: "submit" }, "Switch"));

  document.getElementById("site-header").replaceChildren(
    el("a", { class: "skip", href: "#main" }, "Skip to content"),
    el("a", { class: "brand", href: "./" },
      el("img", { src: "img/logo.svg", alt: "recs demo shop", width: 32, height: 32 }),
      el("span", {}, "recs demo shop")),
    el("nav", { "aria-label": "Main" }, el("ul", {},
      categories.map((c) => el("li", {}, el("a", { href: categoryUrl(c) }, c))),
      el("li", {}, el("a", { href: "cart.html" }, "Cart (",
        el("span", { id: "cart-count" }, String(cartCount())), ")")))),
    picker);
}

function updateCartCount() {
  document.getElementById("cart-count").textContent = String(cartCount());
}
