"""The demo's stand-in for a shop's backend: it issues shopper tokens, to anyone.

A real shop issues a shopper token only to the shopper signed in on its own site (its
backend holds the secret, ``docs/security.md``); the demo has no sign-in, so its picker may
become any sample shopper, and this endpoint signs whatever ``user_id`` it is asked for.
It exists only on the local server that ``make demo`` starts, at ``/demo/token``, a path no
API route has; the deployed storefront has no such endpoint (its shop's backend is the
shop's own).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from recs.contracts.access import DEFAULT_TTL_S, SHOPPER_TOKEN, issue

TOKEN_PATH = "/demo/token"
MAX_USER_ID = 256


@dataclass(frozen=True)
class DemoShopBackend:
    """Issues ``{"user_id", "shopper_token", "expires"}`` for ``GET /demo/token?user_id=``."""

    secret: str
    ttl_s: int = DEFAULT_TTL_S
    clock: Callable[[], float] = field(default=time.time)

    def answer(self, method: str, raw_path: str) -> tuple[int, dict[str, str], bytes] | None:
        """The answer at ``TOKEN_PATH``, or None for any other path."""
        url = urlsplit(raw_path)
        if url.path != TOKEN_PATH:
            return None
        if method not in ("GET", "HEAD"):
            return _json(405, {"message": f"{TOKEN_PATH} takes GET"}, {"Allow": "GET"})
        user_id = (parse_qs(url.query).get("user_id") or [""])[-1].strip()
        if not user_id or len(user_id) > MAX_USER_ID:
            return _json(400, {"message": f"user_id: 1-{MAX_USER_ID} characters are required",
                               "field": "user_id"})
        expires = int(self.clock()) + self.ttl_s
        return _json(200, {"user_id": user_id, SHOPPER_TOKEN: issue(self.secret, user_id, expires),
                           "expires": expires})


def _json(status: int, body: dict[str, object],
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store",
                    **(headers or {})}, json.dumps(body).encode()
