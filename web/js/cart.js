// The cart, kept in localStorage: one line per item with its price, quantity and the
// recommendation_id it was added from, so the purchase is credited to that list.

const KEY = "recs.cart";

export function cartLines() {
  try {
    const lines = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(lines) ? lines : [];
  } catch {
    return []; // a cart another version left unreadable starts empty
  }
}

export function addToCart(item) {
  const lines = cartLines();
  const line = lines.find((l) => l.item_id === item.item_id);
  if (line) line.quantity += 1;
  else lines.push({ ...item, quantity: 1 });
  save(lines);
}

export function removeFromCart(itemId) {
  save(cartLines().filter((line) => line.item_id !== itemId));
}

export function clearCart() {
  localStorage.removeItem(KEY);
}

export function cartCount() {
  return cartLines().reduce((sum, line) => sum + line.quantity, 0);
}

export function cartTotal() {
  return cartLines().reduce((sum, line) => sum + (line.price ?? 0) * line.quantity, 0);
}

function save(lines) {
  localStorage.setItem(KEY, JSON.stringify(lines));
}
