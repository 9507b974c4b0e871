// Category page: what is trending in the category (then its parent's, then the shop's).

import { start } from "../app.js";

const app = await start("category");
const category = new URLSearchParams(location.search).get("category") ?? "";
document.getElementById("category-name").textContent = category || "All products";
document.title = `${category || "All products"} · recs demo shop`;

const list = document.getElementById("category-trending");
try {
  app.fill(list, (await app.api.trending(app.shopper, { category, numItems: 12 })).items);
} catch (error) {
  app.fail(list, error);
}
