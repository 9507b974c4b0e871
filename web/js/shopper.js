// Who is shopping: a known shopper's user id (picked, or opened with ?user_id=ID) or nobody,
// and the browsing session's id, made here and kept for the tab (sessionStorage). Switching
// shopper starts a new session and an empty cart.

import { clearCart } from "./cart.js";

const USER = "recs.user_id";
const SESSION = "recs.session_id";

export function currentShopper() {
  const asked = new URLSearchParams(location.search).get("user_id");
  if (asked && asked !== localStorage.getItem(USER)) switchShopper(asked);
  return { userId: localStorage.getItem(USER), sessionId: sessionId() };
}

export function switchShopper(userId) {
  if (userId) localStorage.setItem(USER, userId);
  else localStorage.removeItem(USER);
  sessionStorage.removeItem(SESSION);
  clearCart();
}

export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function sessionId() {
  let id = sessionStorage.getItem(SESSION);
  if (!id) {
    id = `s-${randomId()}`;
    sessionStorage.setItem(SESSION, id);
  }
  return id;
}
