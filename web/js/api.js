// Every call the storefront makes to the recs API, one function per route: the one module
// that knows the API's address, the credential it sends and the routes' paths.

export class ApiError extends Error {
  constructor(status, answer) {
    super(answer?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

export function createApi({ api_base: apiBase, api_key: apiKey }) {
  // The stack's URL ends with its stage ("…/v1/"): paths are appended, never resolved.
  const base = (apiBase || location.origin).replace(/\/+$/, "");

  async function request(method, path, { query = {}, body, keepalive = false } = {}) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(name, value);
    }
    const search = params.toString();
    const headers = { "x-api-key": apiKey };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${path}${search ? `?${search}` : ""}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", // a list changes with every event the shopper sends
      keepalive, // an event sent as the page is left still arrives
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, answer);
    return answer;
  }

  const who = (shopper) => ({ user_id: shopper.userId, session_id: shopper.sessionId });

  return {
    /** GET /recommendations: the shopper's list, best tier first. */
    recommendations: (shopper, { category, numItems = 12 } = {}) =>
      request("GET", "/recommendations", {
        query: { ...who(shopper), category, num_items: numItems },
      }),
    /** GET /recommendations/trending: a category's trending (then its parent's, then all). */
    trending: (shopper, { category, numItems = 8 } = {}) =>
      request("GET", "/recommendations/trending", {
        query: { ...who(shopper), category, num_items: numItems },
      }),
    /** GET /items/{item_id}/similar: what shoppers who liked the item also liked. */
    similar: (itemId, shopper, { numItems = 8 } = {}) =>
      request("GET", `/items/${encodeURIComponent(itemId)}/similar`, {
        query: { ...who(shopper), num_items: numItems },
      }),
    /** POST /events: up to 500 behaviour events. */
    postEvents: (events, { keepalive = false } = {}) =>
      request("POST", "/events", { body: { events }, keepalive }),
  };
}
