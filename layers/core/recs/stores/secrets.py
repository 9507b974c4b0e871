"""Secrets: the shopper token secret, held by value (local) or read from Secrets Manager.

The API and ingest functions read the secret on the first request that carries a shopper
token, not at cold start: most requests (session-only, the server key's) never need it, and
a Secrets Manager client and call would add to every cold start (``benchmarks/serving.py``
measures both). A rotated secret is read again when a token fails against the copy held,
at most once a minute, so a rotation reaches warm containers within a minute of the first
token signed with the new value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from recs.exceptions import ConfigError, StoreError

REFRESH_AFTER_S = 60.0


class StaticSecret:
    """A secret given by value (the local server's, a test's)."""

    def __init__(self, value: str) -> None:
        if not value:
            raise ConfigError("the secret is empty")
        self._value = value

    def value(self, *, fresh: bool = False) -> str:
        return self._value


class SecretsManagerSecret:
    """A Secrets Manager secret's string, read on first use and kept for the container."""

    def __init__(self, secret_id: str, client: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 refresh_after_s: float = REFRESH_AFTER_S) -> None:
        self.secret_id = secret_id
        self._client = client
        self._clock = clock
        self._refresh_after_s = refresh_after_s
        self._value: str | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def value(self, *, fresh: bool = False) -> str:
        with self._lock:
            stale = fresh and self._clock() - self._read_at >= self._refresh_after_s
            if self._value is None or stale:
                self._value = self._read()
                self._read_at = self._clock()
            return self._value

    def _read(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            import boto3

            from recs.stores.aws import REQUEST_CONFIG

            self._client = boto3.client("secretsmanager", config=REQUEST_CONFIG)
        try:
            answer = self._client.get_secret_value(SecretId=self.secret_id)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"secretsmanager GetSecretValue {self.secret_id}: {exc}") from exc
        value = answer.get("SecretString")
        if not value:
            raise ConfigError(f"secret {self.secret_id} holds no SecretString")
        return str(value)
