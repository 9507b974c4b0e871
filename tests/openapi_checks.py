"""Checks of an OpenAPI 3.0 document that its own schema does not make, and of bodies against it.

openapi-spec-validator (which moto[server] installs) checks the document's shape; these check
what a reader relies on besides: every ``$ref`` resolves, every path parameter is declared
and every declared one is in the path, every 200 body has properties, and a real answer
matches the schema documented for its status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from openapi_schema_validator import OAS30Validator

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method in capitals, path, Operation Object) for every operation."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _target(spec: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def resolved(spec: dict[str, Any], node: Any) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at (the schemas are acyclic)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return resolved(spec, _target(spec, node["$ref"]))
        return {key: resolved(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolved(spec, value) for value in node]
    return node


def problems(spec: dict[str, Any]) -> list[str]:
    """What is wrong with the document; empty when nothing is."""
    found = []
    for ref in sorted(set(_refs(spec))):
        try:
            _target(spec, ref)
        except (KeyError, TypeError):
            found.append(f"{ref} does not resolve")
    ids = [operation.get("operationId") for _, _, operation in operations(spec)]
    found += [f"operationId {name} is used twice" for name in set(ids) if ids.count(name) > 1]
    for method, path, operation in operations(spec):
        where = f"{method} {path}"
        in_path = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in resolved(spec, operation.get("parameters", []))
                    if p["in"] == "path"}
        found += [f"{where}: path parameter {name} is not declared"
                  for name in sorted(in_path - declared)]
        found += [f"{where}: declares path parameter {name}, which the path lacks"
                  for name in sorted(declared - in_path)]
        found += [f"{where}: path parameter {p['name']} is not required"
                  for p in operation.get("parameters", [])
                  if p["in"] == "path" and not p.get("required")]
        ok = operation.get("responses", {}).get("200")
        try:
            schema = ok and resolved(spec, ok["content"]["application/json"]["schema"])
        except (KeyError, TypeError):
            schema = None  # reported above
        if not schema or not schema.get("properties"):
            found.append(f"{where}: the 200 body has no properties")
    return found


def check_body(spec: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    """Raise unless ``body`` matches the schema the document gives for this answer."""
    responses = spec["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented"
    schema = resolved(spec, responses[str(status)]["content"]["application/json"]["schema"])
    OAS30Validator(schema).validate(body)


def check_request(spec: dict[str, Any], method: str, path: str, body: Any) -> None:
    """Raise unless ``body`` matches the request body the document gives."""
    operation = spec["paths"][path][method.lower()]
    schema = resolved(spec, operation["requestBody"]["content"]["application/json"]["schema"])
    OAS30Validator(schema).validate(body)
