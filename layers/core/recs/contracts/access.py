"""Who may call what: the two API keys, the shopper token, and CORS, as shops and the API see them.

Two keys split by power. The **server key** is the shop's backend's: every keyed route, no
shopper token. The **storefront key** ships to browsers, so it is public: it may only read
recommendations and post events (``Access.STOREFRONT`` routes in ``recs.contracts.routes``),
and a request that names a ``user_id`` with it must carry that shopper's **shopper token**,
which the shop's backend issues to the signed-in shopper. Without it anyone holding the
public key could read any shopper's list, whose reasons ("Because you bought ...") disclose
their purchases. A session id needs no token: sessions are random and unguessable.

API Gateway cannot restrict a key to some methods, so the functions tell the keys apart by
``requestContext.identity.apiKeyId`` against the storefront key's id in their environment.

The token is the contract between the shop's backend and the API, so its algorithm lives
here, small enough to re-implement in any language (``docs/security.md`` has Python and
JavaScript)::

    token   = "v1." + expires + "." + base64url(HMAC-SHA256(secret, message))  # no padding
    message = "v1." + expires + "." + user_id  # UTF-8; expires: Unix seconds, digits only

The user id is not in the token: the request names it (``user_id``), and the signature binds
the two. ``expires`` comes before the id, and is digits only, so no id can forge another
id's message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

STOREFRONT_KEY_ID_ENV = "RECS_STOREFRONT_KEY_ID"  # the storefront key's API Gateway id
# The token secret: its value (local), or the Secrets Manager secret holding it (cloud).
SHOPPER_SECRET_ENV = "RECS_SHOPPER_TOKEN_SECRET"
SHOPPER_SECRET_ARN_ENV = "RECS_SHOPPER_TOKEN_SECRET_ARN"
CORS_ORIGINS_ENV = "RECS_CORS_ORIGINS"  # allowed browser origins, comma-separated; * any

# The ids the local server gives the keys in the proxy event, as API Gateway gives their ids.
LOCAL_SERVER_KEY_ID = "local-server-key"
LOCAL_STOREFRONT_KEY_ID = "local-storefront-key"

SHOPPER_TOKEN = "shopper_token"  # the query parameter
TOKEN_VERSION = "v1"
MAX_TOKEN_LENGTH = 128  # "v1." + up to 20 digits + "." + 43 characters of signature
DEFAULT_TTL_S = 3600

# Request headers a browser may send: the key, and the body's type.
CORS_ALLOW_HEADERS = ("content-type", "x-api-key")
CORS_MAX_AGE_S = 600  # how long a browser may reuse a preflight's answer
# Answer headers a browser's script may read besides the simple ones.
CORS_EXPOSE_HEADERS = ("Retry-After", "Allow")
CORS_ALLOW_METHODS = ("GET", "POST", "PUT", "OPTIONS")

NOT_FOR_USER = "is not valid for this user_id"

_TOKEN = re.compile(r"v1\.([0-9]{1,20})\.([A-Za-z0-9_-]{43})")


def _signature(secret: str, user_id: str, expires: int) -> str:
    message = f"{TOKEN_VERSION}.{expires}.{user_id}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret.encode("utf-8", "surrogatepass"), message, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def issue(secret: str, user_id: str, expires: int) -> str:
    """The token proving ``user_id`` until ``expires`` (Unix seconds), signed with ``secret``."""
    if not secret:
        raise ValueError("the shopper token secret is empty")
    if expires < 0:
        raise ValueError("expires must be Unix seconds")
    return f"{TOKEN_VERSION}.{expires}.{_signature(secret, user_id, expires)}"


def refusal(secret: str, token: str | None, user_id: str, now_s: float) -> str | None:
    """Why ``token`` does not prove ``user_id`` at ``now_s``, or None when it does."""
    if not token:
        return (f"is required with the storefront key to name a user_id: the shop's backend "
                f"issues it to the signed-in shopper (send {SHOPPER_TOKEN})")
    match = _TOKEN.fullmatch(token)
    if match is None:
        return "is not a shopper token"
    expires = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _signature(secret, user_id, expires)):
        return NOT_FOR_USER
    if now_s >= expires:
        return "has expired: ask the shop's backend for a new one"
    return None


def origins(raw: str | None) -> tuple[str, ...]:
    """``RECS_CORS_ORIGINS``'s value as origins: comma-separated, blanks and trailing slashes
    dropped (a browser's Origin never ends in one)."""
    return tuple(dict.fromkeys(part.strip().rstrip("/") for part in (raw or "").split(",")
                               if part.strip()))


def _function_env() -> dict[str, tuple[str, ...]]:
    from recs.contracts.resources import ADMIN, API, INGEST

    keyed = (STOREFRONT_KEY_ID_ENV, CORS_ORIGINS_ENV)
    # The admin function serves no storefront route, so it never checks a token; it still
    # refuses the storefront key (locally its routes take a key).
    return {API.name: (*keyed, SHOPPER_SECRET_ARN_ENV),
            INGEST.name: (*keyed, SHOPPER_SECRET_ARN_ENV), ADMIN.name: keyed}


# The access variables each HTTP function gets, beside its ``FunctionSpec.env``: set by the
# API construct, which makes the keys, the secret and the allowed origins.
FUNCTION_ENV = _function_env()
