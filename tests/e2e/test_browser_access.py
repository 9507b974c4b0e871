"""`make demo` as a browser and a storefront see it: a preflight answered without a key, the
storefront key (the one config.json publishes) refused on the server's routes, a shopper's
list only with the token the demo's stand-in shop backend issues, CORS on every answer."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from recs.contracts.access import SHOPPER_SECRET_ENV, issue
from recs_local.sample_data import write_csv
from tests.conftest import event, rice_milk_lamb
from tests.e2e.conftest import API_KEY, demo_server

pytestmark = pytest.mark.e2e

STOREFRONT_KEY = "e2e-storefront-key"
SECRET = "e2e-shopper-token-secret"
ORIGIN = "http://localhost:3000"  # a shop's frontend in development, on another origin


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    csv_path = tmp_path_factory.mktemp("demo") / "events.csv"
    write_csv(rice_milk_lamb(), csv_path)
    with demo_server("--events", str(csv_path), "--simulate", "0",
                     env={"RECS_STOREFRONT_KEY": STOREFRONT_KEY, SHOPPER_SECRET_ENV: SECRET,
                          "RECS_CORS_ORIGINS": ORIGIN}) as url:
        yield url


def send(url: str, method: str = "GET", body: Any = None, key: str | None = STOREFRONT_KEY,
         headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    sent = {"origin": ORIGIN, **(headers or {})}
    if body is not None:
        sent["content-type"] = "application/json"
    if key:
        sent["x-api-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    return status, json.loads(raw) if raw else None, got


def test_a_preflight_gets_the_cors_headers_without_a_key(base_url: str) -> None:
    status, _, headers = send(f"{base_url}/recommendations", "OPTIONS", key=None, headers={
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-api-key"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in headers["Access-Control-Allow-Methods"]
    assert "x-api-key" in headers["Access-Control-Allow-Headers"]


def test_an_origin_not_allowed_gets_no_cors_headers(base_url: str) -> None:
    status, _, headers = send(f"{base_url}/recommendations", "OPTIONS", key=None,
                              headers={"origin": "https://elsewhere.example"})
    assert status == 204 and "Access-Control-Allow-Origin" not in headers


def test_the_storefront_key_cannot_write_the_catalog(base_url: str) -> None:
    item = {"items": [{"item_id": "rice", "available": False}]}
    status, answer, headers = send(f"{base_url}/items", "PUT", item)
    assert status == 403 and answer["field"] == "x-api-key"
    assert headers["Access-Control-Allow-Origin"] == ORIGIN  # the browser may read why
    assert send(f"{base_url}/models/status")[0] == 403
    assert send(f"{base_url}/items", "PUT", {"items": [{"item_id": "new-thing"}]},
                key=API_KEY)[0] == 200  # the server key keeps every right


def test_the_storefront_key_reads_a_shopper_only_with_their_token(base_url: str) -> None:
    url = f"{base_url}/recommendations?user_id=C"
    assert send(url)[0] == 403
    assert send(f"{url}&shopper_token={issue('guess', 'C', int(time.time()) + 60)}")[0] == 403
    assert send(f"{url}&shopper_token={issue(SECRET, 'A', int(time.time()) + 60)}")[0] == 403
    assert send(f"{url}&shopper_token={issue(SECRET, 'C', int(time.time()) - 1)}")[0] == 403
    status, answer, headers = send(
        f"{url}&shopper_token={issue(SECRET, 'C', int(time.time()) + 60)}")
    assert status == 200 and answer["items"][0]["item_id"] == "lamb"
    assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_the_demo_backend_issues_tokens_the_api_accepts(base_url: str) -> None:
    status, issued, _ = send(f"{base_url}/demo/token?user_id=C", key=None)
    assert status == 200 and issued["user_id"] == "C"
    token = issued["shopper_token"]
    assert send(f"{base_url}/recommendations?user_id=C&shopper_token={token}")[0] == 200
    assert send(f"{base_url}/items/rice/similar?user_id=C&shopper_token={token}")[0] == 200
    assert send(f"{base_url}/recommendations/trending?user_id=C&shopper_token={token}")[0] \
        == 200
    own, other = event("C", "tea", "view"), event("A", "tea", "view")
    assert send(f"{base_url}/events?shopper_token={token}", "POST",
                {"events": [own]})[0] == 200
    assert send(f"{base_url}/events?shopper_token={token}", "POST",
                {"events": [own, other]})[0] == 403


def test_sessions_need_no_token(base_url: str) -> None:
    assert send(f"{base_url}/recommendations?session_id=s-{time.time_ns()}")[0] == 200


def test_config_json_publishes_the_storefront_key_not_the_server_key(base_url: str) -> None:
    status, config, _ = send(f"{base_url}/config.json", key=None)
    assert status == 200
    assert config["api_key"] == STOREFRONT_KEY and config["token_url"] == "/demo/token"
    assert API_KEY not in json.dumps(config)
