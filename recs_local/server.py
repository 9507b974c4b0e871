"""HTTP on localhost in front of the handlers, as API Gateway's Lambda proxy would be.

moto cannot serve API Gateway proxy routes, so this turns each HTTP request into an API
Gateway (REST, v1) proxy event, calls the same handler the cloud runs, and writes its answer
back. Which function gets a request, and whether it needs the API key, comes from the route
table (``recs.contracts.routes``), as in the CDK app. Where API Gateway would answer 403 for a
method or path it lacks, the request goes on instead to the function of its path (the API
function for a path no route has), which answers 405 or 404 itself.

Two size limits stand before a function: API Gateway takes request bodies up to 10 MB, and
Lambda then refuses a synchronous invocation whose event (the body, base64 when binary, with
the headers and the rest of the proxy event) is over 6 MB, before any of our code runs. Both
answer 413 here; in the cloud the first is API Gateway's own 413, and a refused invocation
surfaces as an API Gateway error too (no function ran, nothing was recorded).

Two keys, as the stack's two usage plans: ``api_key`` the server key, ``storefront_key`` the
storefront key. The server passes which one came (``requestContext.identity.apiKeyId``, as
API Gateway does) and the functions refuse what the storefront key may not do
(``recs.api.access``). CORS: a preflight (``OPTIONS`` on a route's path) is answered here
without a key, as API Gateway's mock integration does, and the server's own refusals carry
the CORS headers, as the stack's gateway responses do; the functions add them to theirs.
Allowed origins: ``cors_origins``, by default ``RECS_CORS_ORIGINS`` or any (``*``): the keys,
not cookies, are the credentials, and the server listens on loopback.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from recs.contracts import access
from recs.contracts.resources import API
from recs.contracts.routes import API_KEY_HEADER, Access, Route, routes_at
from recs_local.shop_backend import DemoShopBackend
from recs_local.storefront import Storefront

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# Lambda's synchronous invocation payload limit ("6 MB"): the event's JSON, in bytes.
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024

Invoke = Callable[[str, dict[str, Any]], Any]


def proxy_event(method: str, raw_path: str, headers: dict[str, str], body: bytes,
                api_key_id: str | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event for one HTTP request; ``api_key_id``: the id of the
    API key it came with."""
    url = urlsplit(raw_path)
    multi = parse_qs(url.query, keep_blank_values=True)
    text: str | None
    encoded = False
    try:
        text = body.decode("utf-8") if body else None
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": url.path,
        "path": url.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": encoded,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "local",
            "httpMethod": method,
            "path": url.path,
            "resourcePath": url.path,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "apiKeyId": api_key_id},
        },
    }


def event_bytes(event: dict[str, Any]) -> int:
    """The size of a proxy event as Lambda counts it against its payload limit: its JSON."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"))


def route_for(method: str, path: str) -> tuple[str, Route | None]:
    """The function a request goes to, and its table route when it has one.

    A path's other methods go to the path's function, and an unknown path to the API
    function, so that they answer 405 and 404."""
    at_path = routes_at(path)
    route = next((r for r in at_path if r.method == method), None)
    if route is not None:
        return route.function, route
    return (at_path[0].function if at_path else API.name), None


def needs_key(route: Route | None) -> bool:
    """Every request but the public routes' takes the key (admin routes are IAM-only in the
    cloud; locally the API key guards them like every other route)."""
    return route is None or route.access is not Access.PUBLIC


def cors_headers(origin: str | None, allowed: Sequence[str]) -> dict[str, str]:
    """The CORS headers of an answer to a request from ``origin``: none unless it is
    allowed (or ``*`` is)."""
    if not origin or (origin not in allowed and "*" not in allowed):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": ", ".join(access.CORS_EXPOSE_HEADERS)}


def preflight_headers(origin: str | None, allowed: Sequence[str],
                      routes: Sequence[Route]) -> dict[str, str]:
    """A preflight's answer for a path with ``routes``: its methods, the request headers a
    browser may send and how long to remember them, for an allowed origin."""
    headers = cors_headers(origin, allowed)
    if headers:
        methods = sorted({route.method for route in routes} | {"OPTIONS"})
        headers.update({"Access-Control-Allow-Methods": ", ".join(methods),
                        "Access-Control-Allow-Headers": ", ".join(access.CORS_ALLOW_HEADERS),
                        "Access-Control-Max-Age": str(access.CORS_MAX_AGE_S)})
    return headers


def make_server(host: str, port: int, invoke: Invoke, api_key: str | None = None,
                storefront: Storefront | None = None, *, storefront_key: str | None = None,
                cors_origins: Sequence[str] | None = None,
                shop_backend: DemoShopBackend | None = None) -> ThreadingHTTPServer:
    """``api_key``: like API Gateway with a usage plan, refuse requests without it (403).
    ``storefront_key``: the storefront's key, accepted too on keyed routes and passed on as
    ``LOCAL_STOREFRONT_KEY_ID`` (the functions give it fewer rights).
    ``storefront``: serve the demo storefront's files, keyless, at paths no route has (as
    CloudFront serves them from their own origin in the cloud). ``shop_backend``: the demo's
    token endpoint (``recs_local.shop_backend``). ``cors_origins``: see the module docstring."""
    allowed = tuple(cors_origins) if cors_origins is not None else (
        access.origins(os.environ.get(access.CORS_ORIGINS_ENV)) or ("*",))
    keys = {key: key_id for key, key_id in ((api_key, access.LOCAL_SERVER_KEY_ID),
                                            (storefront_key, access.LOCAL_STOREFRONT_KEY_ID))
            if key}

    def key_id_of(sent: str) -> str | None:
        """The id of the key sent, comparing with every key in constant time."""
        found = None
        for key, key_id in keys.items():
            if hmac.compare_digest(sent.encode(), key.encode()):
                found = key_id
        return found

    class Handler(BaseHTTPRequestHandler):
        server_version = "recs-local/0.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._discard(length)  # read it all, so the client hears the answer
                self._write(413, {"Content-Type": "application/json"},
                            json.dumps({"message": "request body over 10 MB"}).encode())
                return
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = urlsplit(self.path).path
            origin = headers.get("origin")
            if self.command == "OPTIONS" and routes_at(path):  # a CORS preflight: no key
                self._write(204, preflight_headers(origin, allowed, routes_at(path)), b"")
                return
            if shop_backend is not None:
                issued = shop_backend.answer(self.command, self.path)
                if issued is not None:
                    self._write(*issued)
                    return
            if storefront is not None and not routes_at(path):
                static = storefront.answer(self.command, path, headers.get("host"))
                if static is not None:
                    self._write(static.status, static.headers, static.body)
                    return
            function, route = route_for(self.command, path)
            # The server's own answers carry the CORS headers, as gateway responses do.
            own = {"Content-Type": "application/json", **cors_headers(origin, allowed)}
            key_id = key_id_of(headers.get(API_KEY_HEADER, "")) if keys else None
            if keys and needs_key(route) and key_id is None:
                self._write(403, own, json.dumps({"message": "Forbidden: send your key in the "
                                                             "x-api-key header"}).encode())
                return
            event = proxy_event(self.command, self.path, headers, body, key_id)
            size = event_bytes(event)
            if size > LAMBDA_PAYLOAD_BYTES:
                self._write(413, own, json.dumps({
                    "message": f"request too large: it makes a {size:,}-byte Lambda event, over "
                               f"Lambda's {LAMBDA_PAYLOAD_BYTES:,}-byte limit (POST /events and "
                               "PUT /items take bodies of at most 1,000,000 bytes)"}).encode())
                return
            try:
                result = invoke(function, event)
            except Exception:  # a handler crash: API Gateway's 502, the detail in the log
                logger.exception("%s failed on %s %s", function, self.command,
                                 urlsplit(self.path).path)
                self._write(502, own, json.dumps({"message": "Internal server error"}).encode())
                return
            payload = result.get("body") or ""
            data = (base64.b64decode(payload) if result.get("isBase64Encoded")
                    else payload.encode())
            out_headers = dict(result.get("headers") or {})
            for key, values in (result.get("multiValueHeaders") or {}).items():
                out_headers[key] = ", ".join(values)
            self._write(int(result.get("statusCode", 200)), out_headers, data)

        def _discard(self, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    return
                length -= len(chunk)

        def _write(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers of a GET, no body
                self.wfile.write(data)

        def __getattr__(self, name: str) -> Any:
            """``do_<METHOD>`` for every method, QUERY and TRACE too: API Gateway takes any
            method, and the path's function answers 405 for those no route has."""
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            pass

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
