"""Request parameters, declared once: checked by hand per request, and described in OpenAPI.

Hand-written rather than Powertools' pydantic validation: pydantic and the OpenAPI models
cost the API function about 90 ms of its cold start (``benchmarks/serving.py``), for four
routes whose parameters are a few bounded strings and integers. One declaration serves
both the check and the document (``recs.api.routing``), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recs.exceptions import ParameterError

_INTEGER = re.compile(r"[+-]?[0-9]+")  # what int() takes, less "1_000", spaces and other digits


@dataclass(frozen=True)
class Param:
    """One query or path parameter: an integer within bounds, or a string of bounded length."""

    name: str
    kind: type[int] | type[str]
    description: str
    default: int | str | None = None
    minimum: int | None = None  # the smallest value (int) or length (str)
    maximum: int | None = None  # the largest value (int) or length (str)
    location: str = "query"

    def parse(self, raw: str | None) -> int | str | None:
        """The typed value, the default when absent; ValueError names what is wrong."""
        if raw is None:
            if self.location == "path":
                raise ValueError("is required")
            return self.default
        if self.kind is int:
            if not _INTEGER.fullmatch(raw):
                raise ValueError(f"must be an integer, got {raw[:40]!r}")
            value = int(raw)
            self._within(value, "")
            return value
        self._within(len(raw), "character")
        return raw

    def _within(self, size: int, unit: str) -> None:
        if self.minimum is not None and size < self.minimum:
            raise ValueError(f"must be at least {_amount(self.minimum, unit)}")
        if self.maximum is not None and size > self.maximum:
            raise ValueError(f"must be at most {_amount(self.maximum, unit)}")

    def with_default(self, default: int | str) -> Param:
        return Param(self.name, self.kind, self.description, default, self.minimum,
                     self.maximum, self.location)

    def schema(self) -> dict[str, Any]:
        """This parameter as an OpenAPI 3 Parameter Object."""
        bounds = ("minimum", "maximum") if self.kind is int else ("minLength", "maxLength")
        schema: dict[str, Any] = {"type": "integer" if self.kind is int else "string"}
        for key, bound in zip(bounds, (self.minimum, self.maximum), strict=True):
            if bound is not None:
                schema[key] = bound
        if self.default is not None:
            schema["default"] = self.default
        return {"name": self.name, "in": self.location, "required": self.location == "path",
                "description": self.description, "schema": schema}


def _amount(bound: int, unit: str) -> str:
    """``5``, ``1 character long``, ``256 characters long``."""
    return f"{bound} {unit}{'s' if bound != 1 else ''} long" if unit else str(bound)


def parse(params: Sequence[Param], query: Mapping[str, str] | None,
          path: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every declared parameter, typed; one ParameterError naming all the bad ones."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str, str]] = []
    for param in params:
        source = path if param.location == "path" else query
        try:
            values[param.name] = param.parse((source or {}).get(param.name))
        except ValueError as exc:
            problems.append((param.name, param.location, str(exc)))
    if problems:
        raise ParameterError(problems)
    return values
