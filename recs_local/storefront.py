"""The demo storefront's files for the local server: ``web/`` at ``/``, and its two data files.

The storefront (``web/``) stands in for a shop's own frontend. It reads ``config.json`` (where
the API is, the key it sends, the sample shoppers of the picker) and ``catalog.json`` (the
prices: the API has no catalog read route, and a shop's frontend knows its own catalog) from
its own origin. Locally both are made here from the demo's data; in the cloud the CDK app
writes them beside the files (``infra/constructs_storefront.py``).

Static paths never shadow the API: the local server asks here only for a path no route of
``recs.contracts.routes`` has, so a new route wins over a file of the same name. A request
path is a relative path under ``web/`` or nothing: no ``..``, no hidden files, no file
outside the folder (a symlink out of it included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
SAMPLE_SHOPPERS = 8
# What a browser must be told for each file type: ES modules load only as JavaScript.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
CATALOG_FIELDS = ("item_id", "title", "category", "price")
HEADERS = {
    # The demo is edited while it runs: always ask again (a 304 would need ETags for little).
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Storefront:
    """What the local server needs to serve the storefront: its files and its data."""

    api_key: str
    shoppers: tuple[str, ...] = ()
    catalog: tuple[dict[str, Any], ...] = ()
    root: Path = field(default=WEB_ROOT)
    # The shop's backend's token endpoint (recs_local.shop_backend), for config.json's
    # token_url: where the storefront gets a shopper's token (web/js/api.js).
    token_url: str | None = None

    @classmethod
    def for_demo(cls, api_key: str, events: Iterable[Mapping[str, Any]],
                 items: Iterable[Mapping[str, Any]]) -> Storefront:
        """The picker's shoppers: the first few users of the data (sorted, so a test can
        name one); the catalog: each item's id, title, category and price."""
        users = sorted({str(e["user_id"]) for e in events if e.get("user_id")})
        catalog = tuple({k: item[k] for k in CATALOG_FIELDS if item.get(k) is not None}
                        for item in items)
        return cls(api_key, tuple(users[:SAMPLE_SHOPPERS]), catalog)

    def config(self, api_base: str) -> dict[str, Any]:
        """``config.json``: the seam a deployed storefront fills from the stack's outputs."""
        return {"api_base": api_base, "api_key": self.api_key, "shoppers": list(self.shoppers),
                **({"token_url": self.token_url} if self.token_url else {})}

    def answer(self, method: str, path: str, host: str | None) -> Answer | None:
        """The file at a request path, or None to let the API answer (404 for a stranger)."""
        if method not in ("GET", "HEAD"):
            return None
        if path == "/config.json":
            return _json(self.config(f"http://{host}" if host else ""))
        if path == "/catalog.json":
            return _json({"items": list(self.catalog)})
        file = static_file(self.root, path)
        if file is None and not path.endswith("/") and static_file(self.root, path + "/"):
            # A folder named without its slash (/ops): its pages' relative links need it. A
            # browser keeps the fragment (the console's #key=) across the redirect.
            return Answer(301, {"Location": path + "/", **HEADERS}, b"")
        if file is None:
            return None
        return Answer(200, {"Content-Type": CONTENT_TYPES[file.suffix], **HEADERS},
                      file.read_bytes())


def static_file(root: Path, path: str) -> Path | None:
    """The file under ``root`` a URL path names, or None: percent-escapes decoded once, a
    directory means its index.html, and any ``.``/``..`` segment, hidden name, backslash or
    NUL, or a resolved path outside ``root`` names nothing."""
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if not decoded.startswith("/") or "\\" in decoded or "\x00" in decoded:
        return None
    if decoded.endswith("/"):
        decoded += "index.html"
    parts = PurePosixPath(decoded).parts[1:]
    if not parts or any(part in (".", "..") or part.startswith(".") for part in parts):
        return None
    base = root.resolve()
    candidate = base.joinpath(*parts).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate if candidate.suffix in CONTENT_TYPES else None


def _json(value: Any) -> Answer:
    return Answer(200, {"Content-Type": CONTENT_TYPES[".json"], **HEADERS},
                  json.dumps(value).encode())
