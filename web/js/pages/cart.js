// Cart page: the lines kept in this browser, their total, and the way to checkout.

import { start } from "../app.js";
import { cartLines, cartTotal, removeFromCart } from "../cart.js";
import { el, price, productUrl } from "../render.js";

const app = await start("cart");

function show() {
  const lines = cartLines();
  document.getElementById("cart-count").textContent =
    String(lines.reduce((sum, line) => sum + line.quantity, 0));
  document.getElementById("cart-lines").replaceChildren(...lines.map((line) => el("tr", {},
    el("th", { scope: "row" }, el("a", { href: productUrl(line) }, line.title)),
    el("td", {}, price(line.price)),
    el("td", {}, String(line.quantity)),
    el("td", {}, el("button", { type: "button", "aria-label": `Remove ${line.title}`,
      onclick: () => { removeFromCart(line.item_id); app.say(`${line.title} removed.`); show(); },
    }, "Remove")))));
  document.getElementById("cart-total").textContent = price(cartTotal());
  document.getElementById("cart-empty").hidden = lines.length > 0;
  document.getElementById("cart-full").hidden = lines.length === 0;
}

show();
