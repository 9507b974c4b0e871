"""The local server's storefront: ``web/`` at ``/`` without a key, its config and catalog,
the API's routes first, and no way out of the folder."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recs.contracts.routes import ROUTES
from recs_local.server import make_server, serve_in_background
from recs_local.storefront import WEB_ROOT, Storefront, static_file

KEY = "local-key"
SECRET = "not for the browser"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storefront folder beside a file that must never be served, and a link out to it."""
    tmp_path = tmp_path_factory.mktemp("site")
    web = tmp_path / "web"
    (web / "js").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>home</title>")
    (web / "js" / "app.js").write_text("export const app = 1;")
    (web / "style.css").write_text("body {}")
    (web / "notes.md").write_text("no type for this")
    (web / ".env").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    (web / "link.txt").symlink_to(tmp_path / "secret.txt")
    # Files named like API routes: the routes win.
    (web / "recommendations").write_text(SECRET)
    (web / "swagger").write_text(SECRET)
    return web


@pytest.fixture(scope="module")
def running(root: Path) -> Iterator[tuple[int, list[str]]]:
    """One server for the module (each shutdown waits out its half-second poll)."""
    invoked: list[str] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        invoked.append(f"{function} {event['httpMethod']} {event['path']}")
        return {"statusCode": 404, "body": json.dumps({"message": "not here"})}

    storefront = Storefront(KEY, ("user-0001", "user-0002"),
                            ({"item_id": "rice", "title": "Rice", "price": 2.5},), root)
    httpd = make_server("127.0.0.1", 0, invoke, api_key=KEY, storefront=storefront)
    serve_in_background(httpd)
    yield httpd.server_address[1], invoked
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(running: tuple[int, list[str]]) -> tuple[int, list[str]]:
    """The server, with what it invoked so far forgotten."""
    running[1].clear()
    return running


def get(port: int, path: str, method: str = "GET",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """The request line exactly as given: no client-side normalisation of ``..``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


@pytest.mark.parametrize(("path", "content_type", "text"), [
    ("/", "text/html; charset=utf-8", b"<title>home</title>"),
    ("/?user_id=user-0001", "text/html; charset=utf-8", b"<title>home</title>"),
    ("/index.html", "text/html; charset=utf-8", b"<title>home</title>"),
    ("/js/app.js", "text/javascript; charset=utf-8", b"export const app"),
    ("/style.css", "text/css; charset=utf-8", b"body {}"),
])
def test_files_are_served_without_a_key_with_their_content_type(
    server: tuple[int, list[str]], path: str, content_type: str, text: bytes,
) -> None:
    port, invoked = server
    status, headers, body = get(port, path)
    assert (status, headers["Content-Type"]) == (200, content_type)
    assert text in body
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert invoked == []


def test_head_answers_a_file_s_headers_without_its_body(server: tuple[int, list[str]]) -> None:
    status, headers, body = get(server[0], "/js/app.js", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(b"export const app = 1;"))


def test_config_names_this_server_its_key_and_the_sample_shoppers(
    server: tuple[int, list[str]],
) -> None:
    port, _ = server
    status, headers, body = get(port, "/config.json", headers={"Host": f"127.0.0.1:{port}"})
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert json.loads(body) == {"api_base": f"http://127.0.0.1:{port}", "api_key": KEY,
                                "shoppers": ["user-0001", "user-0002"]}
    status, _, body = get(port, "/catalog.json")
    assert (status, json.loads(body)) == (
        200, {"items": [{"item_id": "rice", "title": "Rice", "price": 2.5}]})


@pytest.mark.parametrize("path", [
    "/recommendations", "/swagger", "/recommendations/trending", "/items/rice/similar",
    "/events", "/models/status",
])
def test_api_routes_take_precedence_over_files(server: tuple[int, list[str]], path: str) -> None:
    port, invoked = server
    status, _, body = get(port, path, headers={"x-api-key": KEY})
    assert SECRET.encode() not in body
    assert (status, invoked) == (404, [f"{invoked[0].split()[0]} GET {path}"])


def test_api_routes_still_take_the_key(server: tuple[int, list[str]]) -> None:
    port, invoked = server
    assert get(port, "/recommendations")[0] == 403
    assert invoked == []


def test_only_get_and_head_read_files(server: tuple[int, list[str]]) -> None:
    port, invoked = server
    assert get(port, "/index.html", "POST", headers={"x-api-key": KEY})[0] == 404
    assert invoked == ["api POST /index.html"]


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/js/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt", "/%5c..%5csecret.txt",
    "/.env", "/js/../.env", "/link.txt", "/%00/../secret.txt", "/index.html%00.js",
    "/notes.md", "/js", "/js/", "/%ff", "//secret.txt", "/" + "../" * 20 + "etc/passwd",
])
def test_no_path_reaches_outside_the_folder_hidden_files_or_untyped_files(
    server: tuple[int, list[str]], path: str,
) -> None:
    port, _ = server
    status, _, body = get(port, path)
    assert status == 403  # not a file: the API's answer, which wants a key
    assert SECRET.encode() not in body


@given(st.text(alphabet="./%2eE5cCfF0\\abjs-_x", max_size=40))
def test_whatever_the_path_a_served_file_is_inside_the_folder(tail: str) -> None:
    found = static_file(WEB_ROOT, "/" + tail)
    assert found is None or found.is_relative_to(WEB_ROOT.resolve())


def test_every_storefront_file_has_a_content_type_and_no_route_shadows_one() -> None:
    files = [p for p in WEB_ROOT.rglob("*") if p.is_file()]
    assert files
    for file in files:
        url = "/" + file.relative_to(WEB_ROOT).as_posix()
        assert static_file(WEB_ROOT, url) == file.resolve(), url
        assert not any(route.matches(url) for route in ROUTES), url


def test_the_demo_storefront_takes_the_first_users_and_each_item_s_price() -> None:
    events = [{"user_id": f"user-{n:04d}"} for n in (9, 3, 3, 12, 1, 5, 7, 2, 8, 4, 6)]
    items = [{"item_id": "rice", "title": "Rice", "category": "groceries", "price": 2.5,
              "available": True, "created_at": "2026-01-01"},
             {"item_id": "new", "title": "New", "category": "books"}]
    front = Storefront.for_demo("k", [*events, {"session_id": "s-1"}], items)
    assert front.shoppers == tuple(f"user-{n:04d}" for n in range(1, 9))
    assert front.catalog == (
        {"item_id": "rice", "title": "Rice", "category": "groceries", "price": 2.5},
        {"item_id": "new", "title": "New", "category": "books"})
