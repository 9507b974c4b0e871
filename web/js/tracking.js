// Behaviour events: each view, click, add-to-cart and purchase as it happens, and the
// impressions of what was shown in batches; every event carries the session id and the
// recommendation_id of the list its item came from, so the realtime session tier and the
// experiments' counts see it.

import { randomId } from "./shopper.js";

const MAX_BATCH = 500; // POST /events takes at most 500 events
const IMPRESSION_DELAY_MS = 300; // the lists of one page go out together

export function createTracker(api, shopper) {
  let pending = [];
  let timer = null;

  function event(type, item, extra = {}) {
    const event = {
      event_id: randomId(),
      session_id: shopper.sessionId,
      item_id: item.item_id,
      event_type: type,
      timestamp: new Date().toISOString(),
      ...extra,
    };
    if (shopper.userId) event.user_id = shopper.userId;
    if (item.category) event.category = item.category;
    if (item.recommendation_id) event.recommendation_id = item.recommendation_id;
    return event;
  }

  function send(events, keepalive) {
    return api.postEvents(events, { keepalive })
      .catch((error) => console.warn(`events not recorded: ${error.message}`));
  }

  function flush(keepalive = false) {
    clearTimeout(timer);
    timer = null;
    while (pending.length) send(pending.splice(0, MAX_BATCH), keepalive);
  }

  addEventListener("pagehide", () => flush(true));

  return {
    /** One event now; kept alive so a click that leaves the page still arrives. */
    track: (type, item, extra) => send([event(type, item, extra)], true),
    /** Impressions of items just shown, sent a moment later in one batch. */
    shown(items) {
      pending.push(...items.map((item) => event("impression", item)));
      timer ??= setTimeout(flush, IMPRESSION_DELAY_MS);
    },
  };
}
