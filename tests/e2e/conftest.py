"""Start `recs demo` in a subprocess and talk to it over HTTP, as a shop's developer would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest

from recs_local.cloud import free_port

API_KEY = "e2e-test-key"


@contextmanager
def demo_server(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "recs_local.cli", "demo", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "RECS_API_KEY": API_KEY, **(env or {})},
    )
    output: list[str] = []
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "serving on" in line:
                break
        if not any("serving on" in line for line in output):
            pytest.fail("demo did not start:\n" + "".join(output))
        # Keep reading what it prints: a full pipe would block the server mid-request.
        threading.Thread(target=_drain, args=(process.stdout, output), daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _drain(stream: IO[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)


def request(url: str, method: str = "GET", body: Any = None,
            key: str | None = API_KEY) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json"}
    if key:
        headers["x-api-key"] = key
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
