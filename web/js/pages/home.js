// Home: "Recommended for you", "Trending" and "New arrivals" (the new_arrival items of the
// shopper's list, or more of trending when there are none). Fetched again whenever the page
// is shown, back-button included, so what the shopper just did shows at once.

import { start } from "../app.js";

const app = await start("home");
const forYou = document.getElementById("for-you");
const trending = document.getElementById("trending");
const arrivals = document.getElementById("new-arrivals");
const SHOWN = 8;

async function show() {
  const [personal, popular] = await Promise.allSettled([
    app.api.recommendations(app.shopper, { numItems: 12 }),
    app.api.trending(app.shopper, { numItems: 2 * SHOWN }),
  ]);
  const items = personal.status === "fulfilled" ? personal.value.items : [];
  const fresh = items.filter((item) => item.tier === "new_arrival");
  if (personal.status === "fulfilled") {
    app.fill(forYou, items.filter((item) => item.tier !== "new_arrival"));
  } else {
    app.fail(forYou, personal.reason);
  }
  if (popular.status === "fulfilled") {
    app.fill(trending, popular.value.items.slice(0, SHOWN));
    app.fill(arrivals, fresh.length ? fresh : popular.value.items.slice(SHOWN));
  } else {
    app.fail(trending, popular.reason);
    if (fresh.length) app.fill(arrivals, fresh);
    else app.fail(arrivals, popular.reason);
  }
}

await show();
// A page restored from the back-forward cache keeps its old lists: ask again.
addEventListener("pageshow", (event) => {
  if (event.persisted) show();
});
