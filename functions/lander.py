"""Lander function: SQS batches of events -> one zstd Parquet file per dt partition."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.contracts.ops import day_of
from recs.exceptions import StoreError
from recs.intake.ingest import now_ms
from recs.intake.landing import health_counts, land_messages
from recs.stores import wiring

logger = Logger(service="recs")
objects = wiring.object_store()
ops = wiring.ops_store()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Land every record that can land; report the others alone as batch item failures.

    Each record is parsed and converted on its own before anything is written
    (``recs.intake.landing.land_messages``), so a poison record fails alone: it is filed under
    ``events-rejected/`` with the reason and its body, and reported so that SQS keeps it (after
    its last receive, the dead-letter queue holds it too). A partition whose write fails
    reports its own records, which SQS delivers again; partition keys derive from the event
    ids and the batch step deduplicates by ``event_id``, so a retry never double-counts.
    """
    records = event["Records"]
    now = now_ms()
    landing = land_messages([(r["messageId"], r["body"]) for r in records], objects, now)
    first = {r["messageId"] for r in records
             if r.get("attributes", {}).get("ApproximateReceiveCount", "1") == "1"}
    try:  # the operator console's count: best effort, never a reason to land again
        ops.add_health(day_of(now), health_counts(landing, first))
    except StoreError as exc:
        logger.warning("health count not written", extra={"error": str(exc)})
    if landing.refused or landing.failed:
        logger.warning("records not landed", extra={
            "refused": [{"message_id": r.message_id, "reason": r.reason, "filed_at": r.key}
                        for r in landing.refused],
            "write_failed": landing.failed})
    logger.info("landed", extra={"partitions": landing.written,
                                 "messages": len(landing.landed)})
    return {"batchItemFailures": [{"itemIdentifier": message_id}
                                  for message_id in landing.failures()]}
