"""The functions' half of access control: which key called, and whether it may ask this.

API Gateway has already checked that a key (or a signature) came with the request; it cannot
tell the storefront key from the server key by route. So each request's key id
(``requestContext.identity.apiKeyId``) is compared with the storefront key's id from the
environment: the storefront key may call only ``Access.STOREFRONT`` routes, and may name a
``user_id`` only with a valid shopper token for it (``recs.contracts.access``). Anything
else (the server key, an API without keys) keeps every right the route gives.

Also the CORS settings of the functions' resolvers, from ``RECS_CORS_ORIGINS``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import CORSConfig

from recs.contracts import access
from recs.contracts.routes import API_KEY_HEADER, Access, Route
from recs.exceptions import ConfigError, Forbidden
from recs.stores.ports import Secret


@dataclass(frozen=True)
class Caller:
    """Who sent the current request: the storefront key (and its token, unchecked until a
    shopper is named), or anyone else."""

    storefront: bool = False
    token: str | None = None


SERVER = Caller()


class Guard:
    """Refuses what the storefront key may not do, per request."""

    def __init__(self, storefront_key_id: str | None, secret: Secret | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.storefront_key_id = storefront_key_id or None
        self.secret = secret
        self.clock = clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Guard:
        """The deployed function's guard; the secret is only named here, read on first use."""
        from recs.stores import wiring

        env = os.environ if environ is None else environ
        return cls(env.get(access.STOREFRONT_KEY_ID_ENV), wiring.shopper_token_secret(env))

    def caller(self, route: Route, event: Any, token: str | None) -> Caller:
        """The request's caller, refused (Forbidden) when the storefront key calls a route
        that does not take it. ``event``: Powertools' API Gateway proxy event."""
        key_id = event.request_context.identity.api_key_id
        if self.storefront_key_id is None or key_id != self.storefront_key_id:
            return SERVER
        if route.access not in (Access.STOREFRONT, Access.PUBLIC):
            raise Forbidden(API_KEY_HEADER, f"the storefront key may not call {route.key}: "
                            "it only reads a shopper's recommendations and posts their "
                            "events; call this route from the shop's backend with the "
                            "server key")
        return Caller(storefront=True, token=token)

    def allow_shoppers(self, caller: Caller, user_ids: Iterable[str]) -> None:
        """Refuse (Forbidden, naming shopper_token) unless the caller may act for each of
        ``user_ids``: always with the server key; with the storefront key, only for the one
        shopper its token was issued to."""
        if not caller.storefront:
            return
        for user_id in dict.fromkeys(user_ids):
            reason = self._refusal(caller.token, user_id)
            if reason is not None:
                raise Forbidden(access.SHOPPER_TOKEN, reason)

    def _refusal(self, token: str | None, user_id: str) -> str | None:
        if token and self.secret is None:
            raise ConfigError(f"the storefront key is configured ({access.STOREFRONT_KEY_ID_ENV})"
                              f" but no shopper token secret ({access.SHOPPER_SECRET_ARN_ENV} "
                              f"or {access.SHOPPER_SECRET_ENV})")
        if self.secret is None:
            return access.refusal("", token, user_id, self.clock())
        now = self.clock()
        reason = access.refusal(self.secret.value(), token, user_id, now)
        if reason == access.NOT_FOR_USER:  # perhaps signed with a rotated secret: read again
            reason = access.refusal(self.secret.value(fresh=True), token, user_id, now)
        return reason


def cors_config(environ: Mapping[str, str] | None = None) -> CORSConfig | None:
    """The resolver's CORS settings from ``RECS_CORS_ORIGINS``; None (no CORS header) when
    no origin is allowed. An answer carries ``Access-Control-Allow-Origin`` only for a
    request whose ``Origin`` is allowed (or any, with ``*``)."""
    env = os.environ if environ is None else environ
    origins = access.origins(env.get(access.CORS_ORIGINS_ENV))
    if not origins:
        return None
    first, *others = origins
    return CORSConfig(allow_origin=first, extra_origins=others,
                      allow_headers=list(access.CORS_ALLOW_HEADERS),
                      expose_headers=list(access.CORS_EXPOSE_HEADERS),
                      max_age=access.CORS_MAX_AGE_S)
