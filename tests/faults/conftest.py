"""The fault-injection suite: each scenario of "trust in production" replayed on the local stack.

Every test starts from ``tests.local_stack`` (the real handlers on moto, a model trained on a
seven-event shop and live, the HTTP server in front), injects one fault, and checks the four
promises: nothing accepted is lost, nothing is counted twice, the live model keeps answering
200, and the operator can see what happened (a quarantined object, a report in the run's
output and the registry, a metric line).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.local_stack import LocalStack, local_stack


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    """A fresh stack per scenario: a fault must not leak into the next one."""
    with local_stack() as running:
        yield running
