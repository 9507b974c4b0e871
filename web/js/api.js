// Every call the storefront makes to the recs API, one function per route: the one module
// that knows the API's address, the credential it sends and the routes' paths.
//
// The key in config.json is the storefront key: public, so a request naming a user_id must
// carry that shopper's token (shopper_token), which the shop's backend issues to the shopper
// signed in on its site (docs/security.md). config.json's token_url is that backend's
// endpoint (`make demo`: /demo/token, which signs any sample shopper). Without a token_url
// the storefront has no one to vouch for a shopper, and shops anonymously (session only).

export class ApiError extends Error {
  constructor(status, answer) {
    super(answer?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

export function createApi({ api_base: apiBase, api_key: apiKey, token_url: tokenUrl }) {
  // The stack's URL ends with its stage ("…/v1/"): paths are appended, never resolved.
  const base = (apiBase || location.origin).replace(/\/+$/, "");
  const tokens = new Map(); // user id -> Promise of {shopper_token, expires}

  // The shopper's token from the shop's backend, reused until a minute before it expires.
  async function tokenFor(userId) {
    const held = tokens.get(userId);
    const fresh = (issued) => issued.expires - 60 > Date.now() / 1000;
    if (held && fresh(await held.catch(() => ({ expires: 0 })))) return (await held).shopper_token;
    const asked = fetch(`${tokenUrl}?${new URLSearchParams({ user_id: userId })}`, {
      cache: "no-store",
    }).then(async (response) => {
      const answer = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, answer);
      return answer;
    });
    tokens.set(userId, asked);
    return (await asked).shopper_token;
  }

  // The query of a request for `userId`: with its token, or without the user (anonymous).
  async function vouched(query, userId) {
    if (!userId) return query;
    if (!tokenUrl) return { ...query, user_id: undefined };
    return { ...query, shopper_token: await tokenFor(userId) };
  }

  async function request(method, path, { query = {}, body, keepalive = false, userId } = {}) {
    query = await vouched(query, userId);
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
        userId: shopper.userId,
      }),
    /** GET /recommendations/trending: a category's trending (then its parent's, then all). */
    trending: (shopper, { category, numItems = 8 } = {}) =>
      request("GET", "/recommendations/trending", {
        query: { ...who(shopper), category, num_items: numItems },
        userId: shopper.userId,
      }),
    /** GET /items/{item_id}/similar: what shoppers who liked the item also liked. */
    similar: (itemId, shopper, { numItems = 8 } = {}) =>
      request("GET", `/items/${encodeURIComponent(itemId)}/similar`, {
        query: { ...who(shopper), num_items: numItems },
        userId: shopper.userId,
      }),
    /** POST /events: up to 500 behaviour events, all of one shopper (the token's). */
    postEvents: (events, { keepalive = false } = {}) => {
      const userId = events.find((event) => event.user_id)?.user_id;
      const sent = userId && !tokenUrl ? events.map(({ user_id, ...rest }) => rest) : events;
      return request("POST", "/events", { body: { events: sent }, keepalive, userId });
    },
  };
}
