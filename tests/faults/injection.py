"""Faults injected into moto where AWS would produce them: inside the service, not the client.

The handlers' boto3 clients then see exactly what they would see in the cloud (an error code
in an HTTP answer, which botocore classifies and may retry), so the code under test keeps
its retries, budgets and fallbacks. This leans on moto's response classes, as the local
cloud does already (moto is pinned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.exceptions import SQSException
from moto.sqs.responses import SQSResponse

Request = dict[str, Any]


def throttled() -> Exception:
    """DynamoDB's answer to a table over its capacity (botocore retries it as throttling)."""
    return DynamodbException(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                             "The level of configured provisioned throughput for the table "
                             "was exceeded. Consider increasing your provisioning level")


def sqs_throttled() -> Exception:
    return SQSException("RequestThrottled", "Request is throttled.")


@contextmanager
def failing(service: type, action: str, error: Callable[[], Exception],
            when: Callable[[Request], bool] = lambda request: True) -> Iterator[list[Request]]:
    """Within the block, ``action`` of moto's ``service`` answers ``error()`` to the requests
    ``when`` picks; yields the list of every request of that action made meanwhile."""
    original = getattr(service, action)
    calls: list[Request] = []

    def answer(self: Any) -> Any:
        request = self.body if isinstance(self.body, dict) else {}
        calls.append(request)
        if when(request):
            raise error()
        return original(self)

    setattr(service, action, answer)
    try:
        yield calls
    finally:
        setattr(service, action, original)


def dynamodb(action: str, when: Callable[[Request], bool] = lambda request: True,
             ) -> Any:
    """DynamoDB's ``action`` (``batch_get_item``, ``update_item`` ...) throttled."""
    return failing(DynamoHandler, action, throttled, when)


def sqs(action: str) -> Any:
    """SQS's ``action`` (``send_message_batch`` ...) throttled, every time."""
    return failing(SQSResponse, action, sqs_throttled)


def asks_for(prefix: str) -> Callable[[Request], bool]:
    """A BatchGetItem that asks for any key starting with ``prefix`` (``I#``: neighbours)."""
    def picks(request: Request) -> bool:
        return any(key["pk"]["S"].startswith(prefix)
                   for table in request.get("RequestItems", {}).values()
                   for key in table.get("Keys", []))
    return picks
