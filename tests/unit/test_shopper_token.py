"""The shopper token, as a shop's backend and the API each see it: issued for a user id and
an expiry with the shared secret, it proves that id until then and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hypothesis import assume, given
from hypothesis import strategies as st

from recs.contracts.access import NOT_FOR_USER, issue, origins, refusal

SECRET = "s3cret-shared-with-the-shop"
NOW = 1_800_000_000

user_ids = st.text(min_size=1, max_size=256).filter(lambda s: s.strip() == s and s)
secrets_ = st.text(min_size=1, max_size=64)
lifetimes = st.integers(min_value=1, max_value=10 * 365 * 86400)


def test_the_token_is_the_documented_algorithm() -> None:
    """docs/security.md's recipe, by hand: a shop's backend in any language can follow it."""
    message = b"v1.1800003600.user-0042"
    signature = base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).rstrip(b"=").decode()
    assert issue(SECRET, "user-0042", 1_800_003_600) == f"v1.1800003600.{signature}"


def test_a_known_answer() -> None:
    """Pinned, so the Python and JavaScript snippets of docs/security.md can be checked
    against the same value (Node's crypto gives it too)."""
    assert issue("demo-secret", "user-0001", 2_000_000_000) == (
        "v1.2000000000.ek3t4JTRNiWH-xCeJaj-uTIXmIUgX4aNYnjQaxU7OQ4")


@given(user_ids, secrets_, lifetimes)
def test_a_token_proves_its_user_until_it_expires(user: str, secret: str, ttl: int) -> None:
    token = issue(secret, user, NOW + ttl)
    assert refusal(secret, token, user, NOW) is None
    assert refusal(secret, token, user, NOW + ttl - 1) is None
    assert refusal(secret, token, user, NOW + ttl) is not None  # expiry honoured
    assert "expired" in str(refusal(secret, token, user, NOW + ttl + 1))


@given(user_ids, user_ids, lifetimes)
def test_a_token_proves_no_other_user(user: str, other: str, ttl: int) -> None:
    assume(user != other)
    assert refusal(SECRET, issue(SECRET, user, NOW + ttl), other, NOW) == NOT_FOR_USER


@given(user_ids, lifetimes, st.integers(min_value=1, max_value=10**9))
def test_a_changed_expiry_is_refused(user: str, ttl: int, extra: int) -> None:
    token = issue(SECRET, user, NOW + ttl)
    version, expires, signature = token.split(".")
    stretched = f"{version}.{int(expires) + extra}.{signature}"
    assert refusal(SECRET, stretched, user, NOW) == NOT_FOR_USER


@given(user_ids, lifetimes, st.data())
def test_any_changed_signature_character_is_refused(user: str, ttl: int,
                                                    data: st.DataObject) -> None:
    token = issue(SECRET, user, NOW + ttl)
    at = data.draw(st.integers(min_value=token.rindex(".") + 1, max_value=len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = data.draw(st.sampled_from([c for c in alphabet if c != token[at]]))
    forged = token[:at] + other + token[at + 1:]
    assert refusal(SECRET, forged, user, NOW) is not None


@given(user_ids, secrets_, lifetimes)
def test_another_secret_signs_nothing_valid(user: str, secret: str, ttl: int) -> None:
    assume(secret != SECRET)
    assert refusal(SECRET, issue(secret, user, NOW + ttl), user, NOW) == NOT_FOR_USER


@given(st.text(max_size=200))
def test_garbage_is_refused_never_raised(token: str) -> None:
    assert refusal(SECRET, token, "user-1", NOW) is not None


def test_a_missing_token_is_named() -> None:
    assert "is required" in str(refusal(SECRET, None, "user-1", NOW))
    assert "is required" in str(refusal(SECRET, "", "user-1", NOW))


def test_origins_are_read_as_a_browser_sends_them() -> None:
    assert origins(" https://a.example/ ,https://b.example:8443,,https://a.example") == (
        "https://a.example", "https://b.example:8443")
    assert origins(None) == () and origins("") == ()
