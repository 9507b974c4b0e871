// Product page: the item (from the catalog), its view event credited to the list it was
// opened from (?rid=), an add-to-cart button, and "Customers also viewed".

import { start } from "../app.js";
import { categoryUrl, el, picture, price } from "../render.js";

const app = await start("product");
const params = new URLSearchParams(location.search);
const itemId = params.get("item_id");
const known = app.catalog.get(itemId);
const item = {
  item_id: itemId,
  title: known?.title ?? itemId,
  category: known?.category,
  price: known?.price,
  recommendation_id: params.get("rid") || undefined,
};

document.title = `${item.title} · recs demo shop`;
document.getElementById("product").replaceChildren(
  picture(item.category, "picture large"),
  el("div", {},
    el("h1", {}, item.title),
    item.category && el("p", {}, "In ", el("a", { href: categoryUrl(item.category) }, item.category)),
    el("p", { class: "price" }, price(item.price)),
    el("button", { type: "button", onclick: () => app.addToCart(item) }, "Add to cart")));
app.tracker.track("view", item);

const similar = document.getElementById("similar");
try {
  app.fill(similar, (await app.api.similar(itemId, app.shopper)).items);
} catch (error) {
  app.fail(similar, error);
}
