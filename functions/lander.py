"""Lander function: SQS batches of events -> one zstd Parquet file per dt partition."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from recs.contracts.events import Event
from recs.intake.landing import land, parse_message
from recs.stores import wiring

logger = Logger(service="recs")
processor = BatchProcessor(event_type=EventType.SQS)
objects = wiring.object_store()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Parse every record (a malformed one fails alone and ends in the DLQ), then write.

    A failed S3 write raises, so the whole batch is retried; partition keys are derived from
    the event ids and the batch step deduplicates by ``event_id``, so a retry never
    double-counts.
    """
    parsed: list[tuple[str, list[Event]]] = []

    def record_handler(record: SQSRecord) -> None:
        parsed.append(parse_message(record.body))

    with processor(records=event["Records"], handler=record_handler):
        processor.process()
    written = land(parsed, objects)
    logger.info("landed", extra={"partitions": written, "messages": len(parsed)})
    return dict(processor.response())
