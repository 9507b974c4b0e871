// The storefront's settings and catalog, read once from its own origin.
//
// config.json: {"api_base", "api_key", "shoppers"}: where the recs API is, the key the
// storefront sends, and the sample shoppers of the picker. catalog.json: {"items": [{item_id,
// title, category, price}]}: the shop's own catalog (the API has no catalog read route; a
// shop's frontend knows its catalog). `make demo` serves both; a deployed storefront has them
// written beside the pages by the CDK app.

let settings;

export function loadSettings() {
  settings ??= Promise.all([getJson("../config.json"), getJson("../catalog.json")])
    .then(([config, catalog]) => ({
      config,
      catalog: new Map((catalog.items ?? []).map((item) => [item.item_id, item])),
    }));
  return settings;
}

async function getJson(path) {
  const url = new URL(path, import.meta.url);
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return response.json();
}
