// Drive Debian's chromium headless through one scenario and print what happened as JSON.
//
//   node tests/browser/drive.mjs < scenario.json
//
// A scenario is {"base": "http://127.0.0.1:PORT", "steps": [...]}; each step is one of
//   {"goto": "/path"}                  open a page and wait until its requests are done
//   {"click": "css", "navigates": true} click (and wait for the next page's load)
//   {"back": true}                      the back button
//   {"wait_for": "css", "text": "...", "timeout": ms}   until such an element is visible
//   {"fill": "css", "value": "..."}     type into a field
//   {"select": "css", "value": "..."}   choose an option
//   {"collect": "name", "js": "expression"}   evaluate in the page, keep the value
//   {"tab": n, "collect": "name"}       press Tab n times (n: a number or an expression),
//                                       keep what each press focused
//   {"screenshot": "path"}
// and every step may set "collect_ms": "name" to keep how long it took. The output holds
// the collected values, the console errors and page errors, every POST /events (what was
// sent, the status and the answer) and failed requests; "error" says which step failed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// The flags that work offline here (docs: DESIGN §9 Browsers): no sandbox as root, no GPU,
// and none of chromium's own network traffic, which a closed network refuses.
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const scenario = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const out = { results: {}, errors: [], events: [], failed: [] };
const profile = mkdtempSync(join(tmpdir(), "recs-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: scenario.executable ?? "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: scenario.viewport ?? { width: 1200, height: 860 },
    timeout: 30_000,
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(scenario.timeout ?? 10_000);
  page.on("console", (message) => {
    if (message.type() === "error") out.errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => out.errors.push(`page: ${error.message}`));
  page.on("requestfailed", (request) => out.failed.push(
    `${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  // Every POST /events as sent, and its answer when the page was still there to get one
  // (an event kept alive past a page's end reaches the server, but no longer the page).
  const posted = new Map();
  page.on("request", (request) => {
    if (request.method() !== "POST" || !new URL(request.url()).pathname.endsWith("/events")) return;
    const record = { sent: request.postDataJSON(), status: null, answer: null };
    posted.set(request, record);
    out.events.push(record);
  });
  page.on("response", async (response) => {
    const record = posted.get(response.request());
    if (!record) return;
    record.status = response.status();
    record.answer = await response.json().catch(() => null);
  });

  for (const [index, step] of scenario.steps.entries()) {
    const started = performance.now();
    try {
      await run(page, step);
    } catch (error) {
      out.error = `step ${index} ${JSON.stringify(step)}: ${error.message}`;
      break;
    }
    if (step.collect_ms) out.results[step.collect_ms] = Math.round(performance.now() - started);
  }
  // Let the last page's batched impressions and kept-alive events arrive before closing.
  await page.waitForLoadState("networkidle").catch(() => {});
} catch (error) {
  out.error = `chromium: ${error.message}`;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out));

async function run(page, step) {
  if (step.goto !== undefined) {
    await page.goto(scenario.base + step.goto, { waitUntil: "networkidle" });
  } else if (step.click !== undefined) {
    const target = page.locator(step.click).first();
    if (step.navigates) await Promise.all([page.waitForEvent("load"), target.click()]);
    else await target.click();
    await page.waitForLoadState("networkidle");
  } else if (step.back) {
    await page.goBack({ waitUntil: "commit" });
  } else if (step.wait_for !== undefined) {
    const found = page.locator(step.wait_for);
    await (step.text ? found.filter({ hasText: step.text }) : found).first()
      .waitFor({ state: "visible", timeout: step.timeout });
  } else if (step.fill !== undefined) {
    await page.locator(step.fill).fill(step.value);
  } else if (step.select !== undefined) {
    await page.locator(step.select).selectOption(step.value);
  } else if (step.tab !== undefined) {
    const focused = [];
    const presses = typeof step.tab === "number" ? step.tab : await page.evaluate(step.tab);
    for (let press = 0; press < presses; press += 1) {
      await page.keyboard.press("Tab");
      focused.push(await page.evaluate(() => {
        const el = document.activeElement;
        return el ? { tag: el.tagName.toLowerCase(), id: el.id, probe: el.dataset.probe ?? null,
          text: (el.getAttribute("aria-label") ?? el.textContent ?? "").trim().slice(0, 60) } : null;
      }));
    }
    out.results[step.collect] = focused;
  } else if (step.collect !== undefined) {
    out.results[step.collect] = await page.evaluate(step.js);
  } else if (step.screenshot !== undefined) {
    await page.screenshot({ path: step.screenshot, fullPage: false });
  } else {
    throw new Error("unknown step");
  }
}
