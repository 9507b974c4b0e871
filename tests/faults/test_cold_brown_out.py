"""A function starting cold into a full DynamoDB brown-out: no live pointer cached, the
registry throttled with the rest, and still every read route answers 200 in its documented
shape. A stack of its own: the read-path module's stack has a warm API function."""

from __future__ import annotations

import json

from recs.api.openapi import document
from recs.contracts.routes import API_TITLE, API_VERSION, ROUTES
from tests.conftest import api_event
from tests.faults import injection
from tests.local_stack import local_stack
from tests.openapi_checks import check_body

SPEC = document(ROUTES, API_TITLE, API_VERSION)
ROUTES_READ: tuple[tuple[str, dict[str, str], str], ...] = (
    ("/recommendations", {"user_id": "C"}, "/recommendations"),
    ("/recommendations/trending", {}, "/recommendations/trending"),
    ("/items/rice/similar", {}, "/items/{item_id}/similar"))


def test_a_cold_function_under_a_full_brown_out_answers_200() -> None:
    with local_stack() as stack, injection.dynamodb("batch_get_item"), \
            injection.dynamodb("get_item"), injection.dynamodb("query"):
        for path, query, route in ROUTES_READ:
            result = stack.cloud.invoke("api", api_event("GET", path, query))
            assert result["statusCode"] == 200, result
            check_body(SPEC, "GET", route, 200, json.loads(result["body"]))
