// Checkout: a purchase event per cart line (price, quantity, and the recommendation_id the
// item was added from), then an empty cart. No payment: this is a demo of the events.

import { start } from "../app.js";
import { cartLines, cartTotal, clearCart } from "../cart.js";
import { price } from "../render.js";

const app = await start("checkout");
const form = document.getElementById("checkout-form");
const lines = cartLines();
document.getElementById("checkout-total").textContent =
  `${lines.length} item${lines.length === 1 ? "" : "s"}, ${price(cartTotal())}`;
form.hidden = lines.length === 0;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  form.querySelector("button").disabled = true;
  await Promise.all(lines.map((line) => app.tracker.track("purchase", line, {
    quantity: line.quantity, ...(line.price != null && { price: line.price }),
  })));
  clearCart();
  document.getElementById("cart-count").textContent = "0";
  form.hidden = true;
  app.say(`Thank you, ${form.elements.name.value}: your order is placed.`);
});
