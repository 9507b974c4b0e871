"""A night of the demo's shop on moto's server, for tests whose processes (the Spark job,
the export's forked shares) must reach the same cloud through their own clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from recs_local import sample_data
from recs_local.cloud import LocalCloud, moto_server
from recs_local.demo import as_of_after, ingest_all, put_catalog

END = datetime(2026, 11, 23, 12, tzinfo=UTC)


@contextmanager
def night_on_server(settings: dict[str, str], users: int, days: int, catalog: bool = True,
                    ) -> Iterator[tuple[LocalCloud, dict[str, Any], list[dict[str, Any]]]]:
    """``users`` shoppers' ``days`` of events up to ``END`` ingested and landed, and the
    nightly state machine run with ``settings`` in the environment: (the cloud, the run's
    result, the events), the server still up; the environment is restored after."""
    saved = dict(os.environ)
    os.environ.update(settings)
    try:
        with moto_server() as cloud:
            events = sample_data.generate(users=users, days=days, end=END)
            if catalog:
                put_catalog(cloud, sample_data.catalog_items())
            ingest_all(cloud, events)
            cloud.pump_queue()
            yield cloud, cloud.run_batch(as_of_after(events), timeout_s=300), events
    finally:
        os.environ.clear()
        os.environ.update(saved)
