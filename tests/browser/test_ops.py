"""The operator console at /ops, read as a spec, in headless chromium against ``recs demo``.

The demo's admin routes take its API key (the local server authorises them as API Gateway
would with IAM in the cloud), so the console signs in with it: typed into its form, or
from the link the demo prints (``/ops#key=…``, a fragment no server sees).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS, Shop, drive, needs_browser
from tests.e2e.conftest import API_KEY

pytestmark = [pytest.mark.e2e, needs_browser]

OPS_SHOT = SCREENSHOTS / "ops-console.png"
AUDIT_JS = (Path(__file__).parent / "audit.js").read_text()
LOADED = "body[data-loaded='true'] #live-version"

# What the console shows, as the page has it.
SHOWN_JS = """(() => ({
  live: document.getElementById('live-version').textContent,
  history: [...document.querySelectorAll('#history tbody tr')].map((row) => row.dataset.version),
  live_row: document.querySelector('#history tr.live')?.dataset.version ?? null,
  chart_points: document.querySelectorAll('#quality-chart svg [data-point]').length,
  chart_name: document.querySelector('#quality-chart svg')?.getAttribute('role') + ': '
    + document.querySelector('#quality-chart svg title')?.textContent,
  bars: [...document.querySelectorAll('#events-chart svg rect[data-day]')]
    .filter((bar) => Number(bar.getAttribute('height')) > 0).length,
  health_days: document.querySelectorAll('#health tbody tr').length,
  dead_letters: document.getElementById('dead-letters').textContent,
  attribution_rows: document.querySelectorAll('#attribution tbody tr').length,
  experiments: document.querySelectorAll('#experiments li').length,
  sign_in_hidden: getComputedStyle(document.getElementById('sign-in')).display === 'none',
  address: location.pathname + location.hash,
}))()"""


def test_the_console_shows_the_live_model_its_chart_and_the_data_s_health(shop: Shop) -> None:
    status = shop.api("/models/status")
    run = drive(shop, [
        {"goto": "/ops"},  # no key yet: the form, and no request to the admin routes
        {"wait_for": "#sign-in"},
        {"collect": "before", "js": "document.getElementById('console').hidden"},
        {"fill": "#ops-key", "value": API_KEY},
        {"click": "#sign-in button[type=submit]"},
        {"wait_for": LOADED},
        {"collect": "shown", "js": SHOWN_JS},
        {"screenshot": str(OPS_SHOT)},
    ])
    assert run.errors == [] and run.failed == []
    assert run.results["before"] is True
    shown = run.results["shown"]
    assert shown["sign_in_hidden"] is True
    assert shown["live"] == status["live_version"] and shown["live"]
    assert shown["live_row"] == status["live_version"]
    assert shown["history"] == [v["version"] for v in status["recent"]]
    scored = [v for v in status["recent"] if v["metrics"].get("candidate", {}).get("ndcg")
              is not None]
    assert shown["chart_points"] == len(scored) > 0
    assert shown["chart_name"] == "img: Quality per model version"
    # The demo's events went through ingest today: today's bar, row and landed count.
    health = shop.api("/ops/health", days=14)
    assert shown["health_days"] == 14 and health["days"][-1]["accepted"] > 0
    assert shown["bars"] >= 1
    assert shown["dead_letters"] == str(health["dead_letters"])
    assert shown["attribution_rows"] >= 1 and shown["experiments"] >= 1
    assert OPS_SHOT.stat().st_size > 10_000


def test_the_demo_s_link_signs_in_and_leaves_no_key_in_the_address(shop: Shop) -> None:
    run = drive(shop, [{"goto": f"/ops#key={API_KEY}"}, {"wait_for": LOADED},
                       {"collect": "shown", "js": SHOWN_JS}])
    assert run.errors == []
    shown = run.results["shown"]
    assert shown["live"] == shop.api("/models/status")["live_version"]
    assert shown["sign_in_hidden"] is True
    assert shown["address"] == "/ops/"  # the folder's slash added; the key taken out


def test_a_wrong_key_is_refused_in_words_and_the_form_comes_back(shop: Shop) -> None:
    run = drive(shop, [{"goto": "/ops/"}, {"fill": "#ops-key", "value": "not-the-key"},
                       {"click": "#sign-in button[type=submit]"},
                       {"wait_for": "#status.error"},
                       {"collect": "status", "js": "document.getElementById('status').textContent"},
                       {"collect": "form", "js": "document.getElementById('sign-in').hidden"}])
    assert "refused" in run.results["status"]
    assert run.results["form"] is False
    # chromium logs each refused request (403) as a console error; nothing else may be there.
    assert all("403" in error for error in run.errors), run.errors


def test_the_console_is_usable_with_a_keyboard_and_a_screen_reader(shop: Shop) -> None:
    steps = []
    for name, key in (("form", None), ("console", API_KEY)):
        steps += [{"goto": f"/ops/index.html#key={key}" if key else "/ops/"},  # two loads
                  {"wait_for": LOADED if key else "#sign-in"},
                  {"collect": f"audit_{name}", "js": AUDIT_JS},
                  {"tab": "document.querySelectorAll('[data-probe]').length",
                   "collect": f"focused_{name}"}]
    run = drive(shop, steps)
    assert run.errors == []
    for name in ("form", "console"):
        audit, focused = run.results[f"audit_{name}"], run.results[f"focused_{name}"]
        assert audit["images"] > 0 and audit["images_without_alt"] == [], name
        assert audit["unlabelled_fields"] == [] and audit["nameless_controls"] == [], name
        assert audit["landmarks"] == ["header", "nav", "main", "footer"], name
        assert (audit["h1"], audit["lang"]) == (1, "en"), name
        assert {f["probe"] for f in focused} == {str(i) for i in range(audit["focusable"])}, name
    assert run.results["focused_console"][0]["text"] == "Skip to the console"
    # The form's field and button, then (the form gone) the console's own controls.
    assert {"ops-key"} <= {f["id"] for f in run.results["focused_form"]}
    assert "sign-out" in {f["id"] for f in run.results["focused_console"]}
    assert "ops-key" not in {f["id"] for f in run.results["focused_console"]}
