// Building the page: elements from data (text nodes only, never HTML strings), item cards
// with title, price, reason and tier, and the formatting they share.

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const ICONS = new Set(["groceries", "electronics", "home", "books"]);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

export const price = (value) => (typeof value === "number" ? money.format(value) : "Price on request");

export const tierName = (tier) => (tier ?? "").replaceAll("_", " ");

export const topCategory = (category) => (category ?? "").split("/")[0];

/** The category's picture: decorative, the title says what the item is (so alt=""). */
export function picture(category, className = "picture") {
  const top = topCategory(category);
  return el("img", {
    class: className, alt: "", width: 56, height: 56,
    src: `img/${ICONS.has(top) ? top : "other"}.svg`,
  });
}

export function productUrl(item) {
  const params = new URLSearchParams({ item_id: item.item_id });
  if (item.recommendation_id) params.set("rid", item.recommendation_id);
  return `product.html?${params}`;
}

export function categoryUrl(category) {
  return `category.html?${new URLSearchParams({ category })}`;
}

/** One recommended item: its picture, title (the link), price, reason, tier, a cart button. */
export function itemCard(item, { onOpen, onAdd }) {
  const title = item.title ?? item.item_id;
  return el("article", { class: "card", "data-item-id": item.item_id, "data-tier": item.tier },
    picture(item.category),
    el("h3", {}, el("a", { href: productUrl(item), onclick: (event) => onOpen(item, event) }, title)),
    el("p", { class: "price" }, price(item.price)),
    el("p", { class: "reason" }, item.reason ?? ""),
    el("p", { class: "tier" }, el("span", { class: "visually-hidden" }, "Tier: "),
      tierName(item.tier)),
    el("button", { type: "button", "aria-label": `Add ${title} to cart`, onclick: () => onAdd(item) },
      "Add to cart"));
}
