// Two small charts drawn as inline SVG (no library, nothing fetched): points per model
// version, and bars per day. Each chart is an image with a title and a description in
// words; the tables beside them hold the same numbers.

const NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 14, bottom: 42 };

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function frame(id, title, description) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-labelledby": `${id}-t ${id}-d`, "data-chart": id });
  root.append(svg("title", { id: `${id}-t` }, title), svg("desc", { id: `${id}-d` }, description));
  return root;
}

function axes(root, max, format) {
  const bottom = H - PAD.bottom;
  for (const share of [0, 0.5, 1]) {
    const y = bottom - share * (bottom - PAD.top);
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, stroke: "#d6dbe4" }),
      svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", "font-size": 11,
        fill: "#556070" }, format(max * share)));
  }
}

const xAt = (index, count) => PAD.left + (count === 1 ? 0.5 : index / (count - 1)) *
  (W - PAD.left - PAD.right - 20) + 10;
const yAt = (value, max) => H - PAD.bottom - (max ? value / max : 0) * (H - PAD.bottom - PAD.top);

/** Quality per version: ``points`` [{label, value, compared, rejected}], oldest first. */
export function qualityChart(points) {
  const scored = points.filter((p) => p.value != null);
  const root = frame("quality", "Quality per model version",
    scored.length ? `NDCG@20 of ${scored.length} versions, from ${scored.at(0).label} to ${scored.at(-1).label}`
      : "No version has a hold-out score yet");
  const max = Math.max(0.0001, ...points.flatMap((p) => [p.value ?? 0, p.compared ?? 0])) * 1.1;
  axes(root, max, (v) => v.toFixed(3));
  const line = scored.map((p) => `${xAt(points.indexOf(p), points.length)},${yAt(p.value, max)}`);
  if (line.length > 1) {
    root.append(svg("polyline", { points: line.join(" "), fill: "none", stroke: "#0b5fff",
      "stroke-width": 2 }));
  }
  points.forEach((p, i) => {
    const x = xAt(i, points.length);
    root.append(svg("text", { x, y: H - PAD.bottom + 16, "text-anchor": "middle", "font-size": 10,
      fill: "#556070" }, p.label.slice(0, 8)));
    if (p.compared != null) {
      root.append(svg("circle", { cx: x, cy: yAt(p.compared, max), r: 5, fill: "#fff",
        stroke: "#556070", "stroke-width": 2 },
      svg("title", {}, `${p.label}: live model's NDCG@20 ${p.compared.toFixed(4)}`)));
    }
    if (p.value == null) return;
    const y = yAt(p.value, max);
    const label = svg("title", {}, `${p.label}: NDCG@20 ${p.value.toFixed(4)}${p.rejected ? " (rejected)" : ""}`);
    root.append(p.rejected
      ? svg("path", { d: `M${x - 5},${y - 5}L${x + 5},${y + 5}M${x - 5},${y + 5}L${x + 5},${y - 5}`,
        stroke: "#c62828", "stroke-width": 3, "data-point": p.label }, label)
      : svg("circle", { cx: x, cy: y, r: 5, fill: "#0b5fff", "data-point": p.label }, label));
  });
  return root;
}

/** Events per day: ``days`` [{day, accepted, rejected}], oldest first; stacked bars. */
export function eventsChart(days) {
  const total = days.reduce((sum, d) => sum + d.accepted + d.rejected, 0);
  const root = frame("events", "Events per day",
    `${total} events sent over ${days.length} days, ${days.reduce((s, d) => s + d.rejected, 0)} rejected`);
  const max = Math.max(1, ...days.map((d) => d.accepted + d.rejected));
  axes(root, max, (v) => Math.round(v).toString());
  const step = (W - PAD.left - PAD.right) / Math.max(1, days.length);
  days.forEach((d, i) => {
    const x = PAD.left + i * step + step * 0.15;
    const width = step * 0.7;
    const top = yAt(d.accepted + d.rejected, max);
    const middle = yAt(d.rejected, max);
    const bottom = yAt(0, max);
    const label = `${d.day}: ${d.accepted} accepted, ${d.rejected} rejected`;
    root.append(
      svg("rect", { x, y: top, width, height: Math.max(0, middle - top), fill: "#0b5fff",
        "data-day": d.day }, svg("title", {}, label)),
      svg("rect", { x, y: middle, width, height: Math.max(0, bottom - middle), fill: "#1d2330" },
        svg("title", {}, label)));
    if (i % Math.ceil(days.length / 7) === 0) {
      root.append(svg("text", { x: x + width / 2, y: H - PAD.bottom + 16, "text-anchor": "middle",
        "font-size": 10, fill: "#556070" }, d.day.slice(5)));
    }
  });
  return root;
}
