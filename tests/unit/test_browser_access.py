"""The functions' access checks, on a resolver wired as the handlers wire theirs: the
storefront key (known by its API Gateway key id) only on storefront routes, a user_id with it
only with that shopper's token, everything for the server key; and the CORS headers the
functions add for an allowed Origin."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from recs.api.access import Guard, cors_config
from recs.api.errors import map_errors
from recs.api.routing import Routes
from recs.contracts import access
from recs.contracts.resources import API, INGEST
from recs.contracts.routes import ROUTES
from recs.stores.secrets import SecretsManagerSecret, StaticSecret
from recs_local.server import proxy_event

SECRET = "shared-with-the-shop"
NOW = 1_800_000_000
STOREFRONT = "key-id-of-the-storefront"
SERVER = "key-id-of-the-server"


def resolver(guard: Guard, env: dict[str, str] | None = None) -> tuple[APIGatewayRestResolver,
                                                                      Routes]:
    """A resolver serving two API routes and POST /events as the functions do."""
    app = map_errors(APIGatewayRestResolver(cors=cors_config(env or {})))
    table = [r for r in ROUTES if r.function in (API.name, INGEST.name)]
    api = Routes(app, API.name, table, guard=guard)
    ingest = Routes(app, INGEST.name, table, guard=guard)

    @api.serve("GET /recommendations")
    def recommendations(user_id: str | None, session_id: str | None, **_: Any) -> dict[str, Any]:
        return {"user_id": user_id, "session_id": session_id}

    @api.serve("GET /models/status")
    def status() -> dict[str, Any]:
        return {"live_version": "v"}

    @ingest.serve("PUT /items")
    def items() -> dict[str, Any]:
        return {"accepted": 1}

    @ingest.serve("POST /events")
    def events() -> dict[str, Any]:
        body = json.loads(app.current_event.body or "{}")
        ingest.allow_shoppers(e["user_id"] for e in body["events"] if "user_id" in e)
        return {"accepted": len(body["events"])}

    return app, api


def call(app: APIGatewayRestResolver, method: str, path: str, key_id: str | None,
         body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str,
                                                                                      str]]:
    raw = json.dumps(body).encode() if body is not None else b""
    answer = app.resolve(proxy_event(method, path, headers or {}, raw, key_id), {})
    return (answer["statusCode"], json.loads(answer["body"] or "null"),
            {**(answer.get("headers") or {}),
             **{k: ", ".join(v) for k, v in (answer.get("multiValueHeaders") or {}).items()}})


@pytest.fixture
def app() -> APIGatewayRestResolver:
    return resolver(Guard(STOREFRONT, StaticSecret(SECRET), clock=lambda: NOW))[0]


def token(user: str, expires: int = NOW + 60, secret: str = SECRET) -> str:
    return access.issue(secret, user, expires)


@pytest.mark.parametrize("method, path", [("PUT", "/items"), ("GET", "/models/status")])
def test_the_storefront_key_is_refused_on_server_routes(app: APIGatewayRestResolver,
                                                        method: str, path: str) -> None:
    status, answer, _ = call(app, method, path, STOREFRONT, {"items": []})
    assert status == 403
    assert answer["field"] == "x-api-key" and "server key" in answer["message"]
    assert call(app, method, path, SERVER, {"items": []})[0] == 200


def test_the_server_key_reads_any_shopper_without_a_token(app: APIGatewayRestResolver) -> None:
    assert call(app, "GET", "/recommendations?user_id=C", SERVER)[0] == 200
    assert call(app, "GET", "/recommendations?user_id=C", None)[0] == 200  # no keys at all


def test_a_session_needs_no_token(app: APIGatewayRestResolver) -> None:
    status, answer, _ = call(app, "GET", "/recommendations?session_id=s-9f2c", STOREFRONT)
    assert (status, answer["session_id"]) == (200, "s-9f2c")


@pytest.mark.parametrize("sent, reason", [
    (None, "is required"),
    (token("D"), access.NOT_FOR_USER),  # another shopper's
    (token("C", secret="guessed"), access.NOT_FOR_USER),  # forged
    (token("C", expires=NOW), "expired"),
    ("v1.99.abc", "is not a shopper token"),
])
def test_the_storefront_key_reads_a_shopper_only_with_their_token(
        app: APIGatewayRestResolver, sent: str | None, reason: str) -> None:
    query = "user_id=C" + (f"&shopper_token={sent}" if sent else "")
    status, answer, _ = call(app, "GET", f"/recommendations?{query}", STOREFRONT)
    assert status == 403
    assert answer["field"] == "shopper_token" and reason in answer["message"]


def test_a_valid_token_reads_its_shopper_and_is_not_passed_on(
        app: APIGatewayRestResolver) -> None:
    status, answer, _ = call(
        app, "GET", f"/recommendations?user_id=C&session_id=s&shopper_token={token('C')}",
        STOREFRONT)
    assert (status, answer) == (200, {"user_id": "C", "session_id": "s"})


def test_posted_events_must_all_be_the_tokens_shopper(app: APIGatewayRestResolver) -> None:
    own = {"user_id": "C", "item_id": "rice"}
    session = {"session_id": "s-1", "item_id": "rice"}
    path = f"/events?shopper_token={token('C')}"
    assert call(app, "POST", path, STOREFRONT, {"events": [own, session]})[0] == 200
    status, answer, _ = call(app, "POST", path, STOREFRONT,
                             {"events": [own, {"user_id": "D", "item_id": "tea"}]})
    assert (status, answer["field"]) == (403, "shopper_token")
    assert call(app, "POST", "/events", STOREFRONT, {"events": [session]})[0] == 200
    assert call(app, "POST", "/events", STOREFRONT, {"events": [own]})[0] == 403
    assert call(app, "POST", "/events", SERVER, {"events": [own]})[0] == 200


def test_a_token_signed_with_a_rotated_secret_is_read_again() -> None:
    class Rotating:
        def __init__(self) -> None:
            self.reads = 0

        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            self.reads += 1
            return {"SecretString": "old" if self.reads == 1 else SECRET}

    client = Rotating()
    clock = [0.0]
    secret = SecretsManagerSecret("arn:secret", client, clock=lambda: clock[0])
    app = resolver(Guard(STOREFRONT, secret, clock=lambda: NOW))[0]
    path = f"/recommendations?user_id=C&shopper_token={token('C')}"
    assert call(app, "GET", path, STOREFRONT)[0] == 403  # read once; too soon to read again
    assert client.reads == 1
    clock[0] = 61.0
    assert call(app, "GET", path, STOREFRONT)[0] == 200
    assert client.reads == 2
    assert call(app, "GET", path, STOREFRONT)[0] == 200 and client.reads == 2


def test_the_secret_is_not_read_until_a_token_comes() -> None:
    class Never:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            raise AssertionError("read at cold start or for a tokenless request")

    app = resolver(Guard(STOREFRONT, SecretsManagerSecret("arn:secret", Never())))[0]
    assert call(app, "GET", "/recommendations?session_id=s", STOREFRONT)[0] == 200
    assert call(app, "GET", "/recommendations?user_id=C", SERVER)[0] == 200


def test_guard_from_the_environment() -> None:
    guard = Guard.from_env({access.STOREFRONT_KEY_ID_ENV: "id",
                            access.SHOPPER_SECRET_ARN_ENV: "arn:aws:secretsmanager:x"})
    assert guard.storefront_key_id == "id"
    assert isinstance(guard.secret, SecretsManagerSecret)
    assert isinstance(Guard.from_env({access.SHOPPER_SECRET_ENV: "v"}).secret, StaticSecret)
    assert Guard.from_env({}).storefront_key_id is None


# --- CORS on the functions' answers ----------------------------------------------------------

SHOP = "https://shop.example"


@pytest.mark.parametrize("origin, allowed", [(SHOP, True), ("https://evil.example", False)])
def test_answers_carry_cors_headers_for_an_allowed_origin(origin: str, allowed: bool) -> None:
    app = resolver(Guard(None, None), {access.CORS_ORIGINS_ENV: f"{SHOP},https://b.example"})[0]
    for path, key in (("/recommendations?session_id=s", None), ("/nowhere", None)):
        _, _, headers = call(app, "GET", path, key, headers={"origin": origin})
        assert (headers.get("Access-Control-Allow-Origin") == origin) is allowed, path


def test_a_refusal_carries_cors_headers_so_the_browser_reads_why() -> None:
    app = resolver(Guard(STOREFRONT, StaticSecret(SECRET)), {access.CORS_ORIGINS_ENV: SHOP})[0]
    status, _, headers = call(app, "GET", "/recommendations?user_id=C", STOREFRONT,
                              headers={"origin": SHOP})
    assert status == 403 and headers["Access-Control-Allow-Origin"] == SHOP


def test_no_origin_configured_means_no_cors() -> None:
    assert cors_config({}) is None
    assert cors_config({access.CORS_ORIGINS_ENV: " , "}) is None
