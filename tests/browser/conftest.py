"""The demo storefront in a real browser: Debian's chromium, headless, driven by the npm
package playwright-core through ``drive.mjs`` (one JSON scenario in, what happened out).

``make test`` installs both (chromium with apt-get when it runs as root, playwright-core with
npm from package-lock.json); without them these tests skip and say what is missing. One
``recs demo`` (no simulated experiment) serves every test here, as a shop's visitor would
meet it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import demo_server, request

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path(__file__).with_name("drive.mjs")
PLAYWRIGHT = REPO / "node_modules" / "playwright-core"
SCREENSHOTS = REPO / "docs" / "images"
SCENARIO_TIMEOUT_S = 60


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root"
    if shutil.which("node") is None:
        return "node is missing (Node >= 20 runs playwright-core)"
    if not (PLAYWRIGHT / "package.json").exists():
        return "node_modules/playwright-core is missing: `make test` runs npm ci"
    return None


needs_browser = pytest.mark.skipif(missing() is not None, reason=missing() or "")


@dataclass
class Shop:
    """The running demo: its address, the storefront's config.json and catalog by item id."""

    base: str
    config: dict[str, Any]
    catalog: dict[str, dict[str, Any]]

    def shopper(self, index: int) -> str:
        """A sample shopper of the picker; each test takes its own, so the impressions one
        test sends never make another's items over-shown."""
        shoppers: list[str] = self.config["shoppers"]
        return shoppers[index]

    def api(self, path: str, **query: Any) -> Any:
        params = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        status, answer = request(f"{self.base}{path}{'?' + params if params else ''}")
        assert status == 200, (path, status, answer)
        return answer


@dataclass
class Run:
    """What a scenario left: the values it collected, console and page errors, every POST
    /events (``sent``, and ``status``/``answer`` when the page was there to hear it)."""

    results: dict[str, Any]
    errors: list[str]
    events: list[dict[str, Any]]
    failed: list[str] = field(default_factory=list)

    def sent(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Every event posted (of one type), in the order the page posted them."""
        return [event for post in self.events for event in post["sent"]["events"]
                if event_type is None or event["event_type"] == event_type]


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    # A generous read budget: on two busy cores (chromium, the server, moto) a read past the
    # default 300 ms would serve the next tier, and these tests compare lists exactly.
    with demo_server("--simulate", "0", env={"RECS_READ_BUDGET_MS": "3000"}) as base:
        status, config = request(f"{base}/config.json", key=None)
        assert status == 200, config
        status, catalog = request(f"{base}/catalog.json", key=None)
        assert status == 200, catalog
        yield Shop(base, config, {item["item_id"]: item for item in catalog["items"]})


def drive(shop: Shop, steps: list[dict[str, Any]]) -> Run:
    """Run one scenario in a fresh chromium profile; a failed step fails the test, naming
    the step and showing the console errors so far."""
    scenario = {"base": shop.base, "steps": steps, "executable": str(CHROMIUM)}
    done = subprocess.run(["node", str(DRIVER)], input=json.dumps(scenario), cwd=REPO,
                          capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S,
                          check=False)
    try:
        out = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"drive.mjs exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    if out.get("error"):
        pytest.fail(f"{out['error']}\nconsole: {out['errors']}\nfailed: {out['failed']}")
    return Run(out["results"], out["errors"], out["events"], out["failed"])


def money(value: float | None) -> str:
    """A price as the storefront shows it (en-US dollars)."""
    return "Price on request" if value is None else f"${value:,.2f}"


def rid_of(href: str) -> str | None:
    """The recommendation_id a product link carries (?rid=)."""
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query).get("rid")
    return values[0] if values else None


# The cards of a list, as the page shows them.
CARDS_JS = """(selector) => [...document.querySelectorAll(selector + ' .card')].map((card) => ({
  item_id: card.dataset.itemId, tier: card.dataset.tier,
  title: card.querySelector('h3 a').textContent,
  href: card.querySelector('h3 a').href,
  price: card.querySelector('.price').textContent,
  reason: card.querySelector('.reason').textContent,
  tier_shown: card.querySelector('.tier').textContent}))"""


def cards(name: str, selector: str) -> dict[str, Any]:
    """A step that collects the cards under ``selector`` as ``name``."""
    return {"collect": name, "js": f"({CARDS_JS})({json.dumps(selector)})"}


SESSION_JS = "sessionStorage.getItem('recs.session_id')"
RID = re.compile(r"^[0-9a-f]+\.[^.]+(\.[^.]+)*$")
