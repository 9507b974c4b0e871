"""A request's parameters, checked against a route's declarations in ``recs.contracts.routes``.

Every bad parameter is named in one 400, so a caller fixes them all at once rather than one
round trip each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recs.contracts.routes import Param
from recs.exceptions import ParameterError


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
