// The operator console: sign in with the operator's key, then read the registry, the data's
// health, attribution and experiments, and offer promote / rollback and stop.
//
// The key comes from the sign-in form, or once from the address (#key=…, which the demo
// prints: a fragment never reaches a server or its logs) and is kept for the tab only
// (sessionStorage). Nothing is requested before there is a key.

import { ApiError, createOpsApi } from "./api.js";
import { el } from "../../js/render.js";
import { eventsChart, qualityChart } from "./chart.js";

const KEY = "recs.ops_key";
const DAYS = 14;
const SELECTABLE = new Set(["archived", "exported"]); // stored, whole, not live: may go live
const $ = (id) => document.getElementById(id);


const count = (n) => (n ?? 0).toLocaleString("en-US");
const share = (v) => (v == null ? "–" : `${(100 * v).toFixed(1)} %`);
const score = (v) => (v == null ? "–" : Number(v).toFixed(4));
const when = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) : "–");
const cell = (text, number = false) => el("td", { class: number ? "number" : null }, text);

function say(message, error = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", error);
}

async function loadConfig() {
  const url = new URL("../../config.json", import.meta.url);
  const response = await fetch(url, { cache: "no-cache" });
  return response.ok ? response.json() : {};
}

function takeKeyFromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("key")) {
    sessionStorage.setItem(KEY, params.get("key"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

function showSignIn(message) {
  $("console").hidden = true;
  $("sign-in").hidden = false;
  if (message) {  // a refused key: straight back to the field (a first visit starts at the top)
    say(message, true);
    $("ops-key").focus();
  }
}

// -- the model ---------------------------------------------------------------------------------
function renderModel(status, api, reload) {
  const live = status.live;
  $("live-version").textContent = status.live_version ?? "none yet";
  const facts = [];
  if (live) {
    const c = live.counts ?? {};
    facts.push(["Status", live.status], ["Trained", when(live.created_at)],
      ["Promoted", when(live.promoted_at)],
      ["Window", `${live.window_start || "?"} to ${live.window_end || "?"}`],
      ["Trained on", `${count(c.events)} events, ${count(c.users)} users, ${count(c.items)} items`],
      ["Algorithm", live.params?.algorithm ?? "–"],
      ["Hold-out NDCG@20", score(live.metrics?.candidate?.ndcg)]);
  }
  $("live-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

  const tuning = live?.metrics?.tuning ?? {};
  const tuned = Object.entries(tuning.params ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const validation = Object.entries(tuning.validation ?? {}).map(([k, v]) =>
    `${k} ${typeof v === "number" ? v.toFixed(4) : JSON.stringify(v)}`);
  $("tuning").replaceChildren(...(Object.keys(tuning).length ? [
    ["Choice", tuned.join(", ") || "the defaults"],
    ["Validation", validation.join(", ") || "–"],
    ["Search", `${tuning.trials ?? 0} trials in ${tuning.seconds ?? 0} s${tuning.complete ? ", the whole grid" : ", cut by the time box"}`],
  ] : [["Choice", "not tuned (too few events, or tuning is off)"]])
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

  const recent = status.recent ?? [];
  const points = [...recent].reverse().map((v) => ({
    label: v.version, value: v.metrics?.candidate?.ndcg ?? null,
    compared: v.metrics?.live?.ndcg ?? null, rejected: v.status === "rejected",
  }));
  $("quality-chart").replaceChildren(qualityChart(points));

  $("history").tBodies[0].replaceChildren(...recent.map((v) => {
    const isLive = v.version === status.live_version;
    const older = status.live_version && v.version < status.live_version;
    const action = SELECTABLE.has(v.status)
      ? el("button", { type: "button", class: "secondary",
        "aria-label": `${older ? "Roll back to" : "Promote"} ${v.version}`,
        onclick: (event) => promote(api, v.version, event.currentTarget, reload) },
      older ? "Roll back" : "Promote")
      : "";
    return el("tr", { class: isLive ? "live" : null, "data-version": v.version },
      el("th", { scope: "row" }, v.version),
      el("td", {}, el("span", { class: `badge ${v.status}` }, v.status)),
      cell(when(v.created_at)), cell(score(v.metrics?.candidate?.ndcg), true),
      cell(score(v.metrics?.live?.ndcg), true), cell(v.reason || "–"), el("td", {}, action));
  }));
}

async function promote(api, version, button, reload) {
  if (!confirm(`Make ${version} the live model? Serving follows within its cache time.`)) return;
  button.disabled = true;
  try {
    const result = await api.promote(version);
    say(result.changed ? `${result.live_version} is live (was ${result.previous_version}).`
      : `${result.live_version} was live already.`);
    await reload();
  } catch (error) {
    say(`${version} was not promoted: ${error.message}`, true);
    button.disabled = false;
  }
}

// -- data health and attribution -----------------------------------------------------------
function renderHealth(health) {
  $("dead-letters").textContent = health.dead_letters == null ? "unknown (the queue did not answer)"
    : count(health.dead_letters);
  $("events-chart").replaceChildren(eventsChart(health.days));
  $("health").tBodies[0].replaceChildren(...[...health.days].reverse().map((d) => el("tr", {},
    el("th", { scope: "row" }, d.day), cell(count(d.accepted), true), cell(count(d.rejected), true),
    cell(share(d.rejected_share), true), cell(count(d.duplicates), true),
    cell(count(d.landed), true), cell(count(d.quarantined), true))));
}

function renderAttribution(attribution) {
  const rows = attribution.totals ?? [];
  $("attribution").tBodies[0].replaceChildren(...(rows.length ? rows.map((c) => el("tr", {},
    el("th", { scope: "row" }, c.version), cell(c.tier.replaceAll("_", " ")),
    cell(count(c.impressions), true), cell(count(c.clicks), true), cell(share(c.ctr), true),
    cell(count(c.carts), true), cell(count(c.purchases), true), cell(share(c.conversion), true)))
    : [el("tr", {}, el("td", { colspan: 8 }, "No recount yet: the nightly attribution step fills this."))]));
}

// -- experiments -------------------------------------------------------------------------------
async function renderExperiments(api, list, reload) {
  const experiments = list.experiments ?? [];
  const reports = await Promise.all(experiments.slice(0, 10).map((e) => api.report(e.id)
    .catch(() => null)));
  $("experiments").replaceChildren(...(experiments.length ? experiments.slice(0, 10).map((e, i) => {
    const report = reports[i];
    const variants = report?.results?.variants ?? {};
    const figures = Object.entries(variants).map(([name, v]) =>
      `${name}: ${count(v.units)} units, CTR ${share(v.ctr)}`).join("; ");
    const stop = e.status === "running" ? el("p", {},
      el("label", { for: `winner-${i}` }, "Winner "),
      el("select", { id: `winner-${i}` }, el("option", { value: "" }, "none"),
        ...e.variants.map((v) => el("option", { value: v.name }, v.name))), " ",
      el("button", { type: "button", "aria-label": `Stop ${e.name}`,
        onclick: (event) => stopExperiment(api, e, $(`winner-${i}`).value, event.currentTarget, reload) },
      "Stop")) : null;
    return el("li", { class: "panel", "data-experiment": e.id },
      el("h3", {}, `${e.name} `, el("span", { class: "badge" }, e.status)),
      el("p", { class: "hint" }, `${e.id} · ${e.surface} by ${e.unit} · ${e.primary_metric}${e.winner ? ` · winner ${e.winner}` : ""}`),
      el("p", { class: "verdict" }, report?.results?.verdict ?? "No report."),
      figures ? el("p", { class: "hint" }, figures) : null, stop);
  }) : [el("li", { class: "empty" }, "No experiment yet (recs experiments create FILE).")]));
}

async function stopExperiment(api, experiment, winner, button, reload) {
  if (!confirm(`Stop ${experiment.name}${winner ? ` with ${winner} as the winner` : ""}?`)) return;
  button.disabled = true;
  try {
    await api.stop(experiment.id, winner);
    say(`${experiment.name} stopped.`);
    await reload();
  } catch (error) {
    say(`${experiment.name} was not stopped: ${error.message}`, true);
    button.disabled = false;
  }
}

// -- the page ------------------------------------------------------------------------------------
async function open(config, key) {
  const api = createOpsApi({ apiBase: config.api_base, key });
  const reload = async () => {
    const [status, health, attribution, experiments] = await Promise.all([
      api.status(), api.health(DAYS), api.attribution(DAYS), api.experiments()]);
    renderModel(status, api, reload);
    renderHealth(health);
    renderAttribution(attribution);
    await renderExperiments(api, experiments, reload);
  };
  try {
    await reload();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      sessionStorage.removeItem(KEY);
      showSignIn("The key was refused: check it and sign in again.");
      return;
    }
    say(`The console could not load: ${error.message}`, true);
  }
  $("sign-in").hidden = true;
  $("console").hidden = false;
  document.body.dataset.loaded = "true";
}

async function main() {
  const config = await loadConfig();
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("ops-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    say("");
    // The form goes away: keep the keyboard's place at the top of what replaces it.
    open(config, key).then(() => $("main").focus({ preventScroll: true }));
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    say("Signed out.");
    showSignIn();
  });
  // A link with a key followed from this very page changes only the fragment.
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.slice(1)).has("key")) open(config, takeKeyFromAddress());
  });
  const key = takeKeyFromAddress();
  if (key) await open(config, key);
  else showSignIn();
}

main();
