"""S3, SQS and DynamoDB implementations of the store ports.

Low-level boto3 clients, not resources: they import faster and decode less, which matters on
the API's cold start. The endpoint comes from boto3's own ``AWS_ENDPOINT_URL`` setting, so the
local demo points the very same code at moto. Every SDK error leaves as ``StoreError``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from recs.contracts.keys import (
    HISTORY,
    LIVE_POINTER,
    MODEL_PARTITION,
    NEW_ARRIVALS_KEY,
    UNAVAILABLE_KEYS,
    UNAVAILABLE_PREFIX,
    StoredEntry,
    loggable_key,
    row_keys_key,
    unavailable_key,
    unavailable_shard,
)
from recs.exceptions import NotFound, PartlyEnqueued, PromotionRefused, StoreError
from recs.stores.ports import (
    RECENT_LIMIT,
    RETIRING,
    SEEN_LIMIT,
    SHOWN_LIMIT,
    CatalogState,
    Deadline,
    ModelVersion,
    RealtimeState,
    RecRow,
    check_unavailable_fits,
    decode_entries,
    decode_history,
    decode_json,
    merge_new_arrivals,
    row_key_chunks,
    skip_unreadable,
    unseen,
    valid_arrivals,
)

logger = logging.getLogger(__name__)

DYNAMO_BATCH_WRITE = 25
DYNAMO_BATCH_GET = 100
SQS_BATCH = 10
SQS_BATCH_BYTES = 250_000
MAX_ATTEMPTS = 8

# Concurrent BatchWriteItem calls of the export. One at a time, the ~46k calls of a million
# users' lists would take most of a Lambda's 15 minutes in round trips alone.
WRITE_WORKERS = 8

# The read path (the API function) waits at most READ_BUDGET_S per request for DynamoDB, then
# answers from what it has (``DynamoServingReader``); the budget is RECS_READ_BUDGET_MS.
READ_BUDGET_S = 0.3
READ_RETRY_BACKOFF_S = 0.02


def read_path_config(budget_s: float = READ_BUDGET_S) -> Config:
    """The read path's client: connect and read timeouts of a third of the budget each and no
    SDK retries, so one attempt cannot outlast the budget and the reader alone decides whether
    a retry still fits (botocore's own would sleep and retry past any deadline)."""
    return Config(connect_timeout=budget_s / 3, read_timeout=budget_s / 3,
                  retries={"total_max_attempts": 1, "mode": "standard"})


READ_PATH_CONFIG = read_path_config()
# Ingest's and the admin's requests: a slow answer is better than a refused one there.
REQUEST_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2})
# Ingest's SQS sends. A send that times out has often been enqueued all the same, and a 503
# then tells the shop to resend events that are already safe (under load on the local stack,
# a quarter of POST /events did so with a 1 s read timeout): so wait longer for SQS's answer.
# Two attempts of at most 4 s stay inside the ingest function's 10 s.
QUEUE_CONFIG = Config(connect_timeout=1, read_timeout=3,
                      retries={"max_attempts": 2, "mode": "standard"})
BATCH_CONFIG = Config(retries={"max_attempts": 10, "mode": "adaptive"})
# The export's writes: a connection per worker, and no client-side check of requests this
# module builds itself (botocore's validation walks every attribute: a tenth of the CPU).
EXPORT_CONFIG = BATCH_CONFIG.merge(Config(max_pool_connections=2 * WRITE_WORKERS,
                                          parameter_validation=False))


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0))


class S3ObjectStore:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self.client = client or boto3.client("s3", config=BATCH_CONFIG)

    def put(self, key: str, body: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"s3 put {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"no object at s3://{self.bucket}/{key}") from exc
            raise StoreError(f"s3 get {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"s3 get {key}: {exc}") from exc

    def tail(self, key: str, size: int) -> tuple[bytes, int]:
        """A suffix range (``bytes=-size``): S3 answers with the whole object when it is
        smaller, and names the total in ``Content-Range``; an empty object has no range."""
        answer = self._ranged(key, f"-{size}")
        if answer is None:
            return b"", 0
        body: bytes = answer["Body"].read()
        content_range = answer.get("ContentRange") or ""
        total = content_range.rpartition("/")[2]
        return body, int(total) if total.isdigit() else len(body)

    def span(self, key: str, start: int, size: int) -> bytes:
        """A byte range (``bytes=start-last``); S3 cuts it at the object's end, and answers
        ``InvalidRange`` when it starts past it."""
        if size <= 0:
            return b""
        answer = self._ranged(key, f"{start}-{start + size - 1}")
        return b"" if answer is None else answer["Body"].read()  # type: ignore[no-any-return]

    def _ranged(self, key: str, byte_range: str) -> dict[str, Any] | None:
        """``GetObject`` of ``bytes=<byte_range>``; None when S3 finds no byte there
        (``InvalidRange``: an empty object, or a range past its end)."""
        try:
            return self.client.get_object(  # type: ignore[no-any-return]
                Bucket=self.bucket, Key=key, Range=f"bytes={byte_range}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                raise NotFound(f"no object at s3://{self.bucket}/{key}") from exc
            if code == "InvalidRange":
                return None
            raise StoreError(f"s3 get {key} (bytes {byte_range}): {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"s3 get {key} (bytes {byte_range}): {exc}") from exc

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"s3 list {prefix}: {exc}") from exc
        return sorted(keys)


class SqsEventQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", config=QUEUE_CONFIG)

    def send(self, bodies: Sequence[str]) -> None:
        """Send in SQS batches, in order, retrying entries SQS reports as failed. At the first
        batch SQS does not take whole, stop: ``StoreError`` when no body was taken,
        ``PartlyEnqueued`` naming the bodies not taken (or not confirmed) otherwise."""
        start = 0
        for batch in _sqs_batches(bodies):
            pending = {str(i): body for i, body in enumerate(batch)}
            cause: Exception | None = None
            for attempt in range(MAX_ATTEMPTS):
                entries = [{"Id": i, "MessageBody": b} for i, b in pending.items()]
                try:
                    result = self.client.send_message_batch(
                        QueueUrl=self.queue_url, Entries=entries
                    )
                except (ClientError, BotoCoreError) as exc:
                    cause = exc
                    break
                failed = {f["Id"] for f in result.get("Failed", [])}
                pending = {i: b for i, b in pending.items() if i in failed}
                if not pending:
                    break
                _backoff(attempt)
            if pending:
                error = f"sqs send: {cause or f'{len(pending)} messages still failing'}"
                unsent = sorted(start + int(i) for i in pending)
                unsent += range(start + len(batch), len(bodies))
                if len(unsent) == len(bodies):
                    raise StoreError(error) from cause
                raise PartlyEnqueued(error, unsent) from cause
            start += len(batch)


def _sqs_batches(bodies: Sequence[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if batch and (len(batch) == SQS_BATCH or size + length > SQS_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch


class DynamoRecommendationStore:
    """Lists under (key, version). ``workers`` > 1 writes that many batches at once: the rows
    of one version are independent puts, so their order does not matter."""

    def __init__(self, table: str, client: Any = None, workers: int = 1) -> None:
        self.table = table
        self.client = client or boto3.client("dynamodb", config=REQUEST_CONFIG)
        self.workers = workers

    def write(self, rows: Iterable[RecRow]) -> int:
        chunks = self._chunks(rows)
        if self.workers <= 1:
            return sum(self._write_chunk(chunk) for chunk in chunks)
        return self._write_concurrently(chunks)

    def _chunks(self, rows: Iterable[RecRow]) -> Iterator[list[dict[str, Any]]]:
        """Batches of at most 25 puts, none naming a key twice: DynamoDB refuses such a
        batch outright, so a repeated key starts the next batch (the later row then wins,
        as in the in-memory store; with ``workers`` > 1 the two batches race)."""
        chunk: list[dict[str, Any]] = []
        keys: set[tuple[str, str]] = set()
        for row in rows:
            if (row.key, row.version) in keys:
                yield chunk
                chunk, keys = [], set()
            chunk.append({"PutRequest": {"Item": _row_item(row)}})
            keys.add((row.key, row.version))
            if len(chunk) == DYNAMO_BATCH_WRITE:
                yield chunk
                chunk, keys = [], set()
        if chunk:
            yield chunk

    def delete(self, keys: Iterable[str], version: str) -> int:
        """BatchWriteItem deletes, 25 keys a call and ``workers`` calls at once, as ``write``:
        a version's rows go at the speed and write cost they came."""
        chunks = self._delete_chunks(keys, version)
        if self.workers <= 1:
            return sum(self._write_chunk(chunk) for chunk in chunks)
        return self._write_concurrently(chunks)

    def write_row_keys(self, version: str, keys: Iterable[str]) -> int:
        """Each chunk one item (``keys``: its JSON list), written as the rows are."""
        count = 0

        def items() -> Iterator[list[dict[str, Any]]]:
            nonlocal count
            batch: list[dict[str, Any]] = []
            for count, chunk in enumerate(row_key_chunks(keys), 1):
                batch.append({"PutRequest": {"Item": {
                    "pk": {"S": row_keys_key(count - 1)}, "sk": {"S": version},
                    "keys": {"S": json.dumps(chunk)}}}})
                if len(batch) == DYNAMO_BATCH_WRITE:
                    yield batch
                    batch = []
            if batch:
                yield batch

        for batch in items():
            self._write_chunk(batch)
        return count

    def read_row_keys(self, version: str) -> Iterator[list[str]]:
        """One GetItem per chunk, until one is missing."""
        for chunk in itertools.count():
            try:
                result = self.client.get_item(
                    TableName=self.table,
                    Key={"pk": {"S": row_keys_key(chunk)}, "sk": {"S": version}},
                    ProjectionExpression="#k", ExpressionAttributeNames={"#k": "keys"})
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"dynamodb get row keys {version}: {exc}") from exc
            item = result.get("Item")
            if item is None:
                return
            yield [str(key) for key in json.loads(item["keys"]["S"])]

    @staticmethod
    def _delete_chunks(keys: Iterable[str], version: str) -> Iterator[list[dict[str, Any]]]:
        """Batches of at most 25 deletes, none naming a key twice (see ``_chunks``)."""
        chunk: list[dict[str, Any]] = []
        seen: set[str] = set()
        for key in keys:
            if key in seen:
                yield chunk
                chunk, seen = [], set()
            chunk.append({"DeleteRequest": {"Key": {"pk": {"S": key}, "sk": {"S": version}}}})
            seen.add(key)
            if len(chunk) == DYNAMO_BATCH_WRITE:
                yield chunk
                chunk, seen = [], set()
        if chunk:
            yield chunk

    def _write_concurrently(self, chunks: Iterator[list[dict[str, Any]]]) -> int:
        """At most ``2 * workers`` batches built ahead, so memory stays flat; the first
        failure stops the submitting and is raised once the batches in flight are done."""
        written = 0
        pending: set[Future[int]] = set()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="dynamo-write") as pool:
            try:
                for chunk in chunks:
                    if len(pending) >= 2 * self.workers:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        written += sum(future.result() for future in done)
                    pending.add(pool.submit(self._write_chunk, chunk))
            finally:
                done, _ = wait(pending)
            written += sum(future.result() for future in done)
        return written

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> int:
        pending = chunk
        for attempt in range(MAX_ATTEMPTS):
            try:
                result = self.client.batch_write_item(RequestItems={self.table: pending})
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"dynamodb batch write: {exc}") from exc
            pending = result.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return len(chunk)
            _backoff(attempt)
        raise StoreError(f"dynamodb batch write: {len(pending)} items still unprocessed")

    def get_many(self, keys: Sequence[str], version: str) -> dict[str, list[StoredEntry]]:
        """A row that is not a list of entries counts as missing (and is logged once)."""
        found: dict[str, list[StoredEntry]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), DYNAMO_BATCH_GET):
            request = {
                self.table: {
                    "Keys": [
                        {"pk": {"S": k}, "sk": {"S": version}}
                        for k in unique[start : start + DYNAMO_BATCH_GET]
                    ],
                    "ProjectionExpression": "pk, #items",
                    "ExpressionAttributeNames": {"#items": "items"},
                }
            }
            for attempt in range(MAX_ATTEMPTS):
                try:
                    result = self.client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise StoreError(f"dynamodb batch get: {exc}") from exc
                for item in result.get("Responses", {}).get(self.table, []):
                    _collect_list(item, found)
                request = result.get("UnprocessedKeys") or {}
                if not request:
                    break
                _backoff(attempt)
            if request:
                raise StoreError("dynamodb batch get: keys still unprocessed")
        return found


def _collect_list(item: dict[str, Any], found: dict[str, list[StoredEntry]]) -> None:
    """Add a recommendations row's entries to ``found``, unless they cannot be read."""
    key = item["pk"]["S"]
    entries = decode_entries(item.get("items", {}).get("S"))
    if entries is None:
        skip_unreadable(key, "list")
    else:
        found[key] = entries


def _row_item(row: RecRow) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": row.key},
        "sk": {"S": row.version},
        "items": {"S": json.dumps(row.items, separators=(",", ":"))},
    }
    if row.expires_at:
        item["expires_at"] = {"N": str(row.expires_at)}
    if row.history:
        item[HISTORY] = {"S": json.dumps(list(row.history), separators=(",", ":"))}
    return item


_LIVE_KEY = {"pk": {"S": LIVE_POINTER}, "sk": {"S": LIVE_POINTER}}


class DynamoModelRegistry:
    """Versions under ``pk=MODEL, sk=<version>``; the live pointer under ``pk=sk=LIVE``."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self.client = client or boto3.client("dynamodb", config=REQUEST_CONFIG)

    def put_version(self, record: ModelVersion) -> None:
        data = record.to_dict()
        # What promote and retire change in place are attributes of their own.
        status = data.pop("status")
        promoted_at = data.pop("promoted_at")
        superseded_at = data.pop("superseded_at")
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": MODEL_PARTITION},
                    "sk": {"S": record.version},
                    "status": {"S": status},
                    "promoted_at": {"S": promoted_at},
                    "superseded_at": {"S": superseded_at},
                    "record": {"S": json.dumps(data, sort_keys=True)},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"registry put {record.version}: {exc}") from exc

    def get_version(self, version: str) -> ModelVersion | None:
        try:
            result = self.client.get_item(
                TableName=self.table,
                Key={"pk": {"S": MODEL_PARTITION}, "sk": {"S": version}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"registry get {version}: {exc}") from exc
        item = result.get("Item")
        return _version_from_item(item) if item else None

    def list_versions(self) -> list[ModelVersion]:
        records: list[ModelVersion] = []
        try:
            for page in self.client.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": MODEL_PARTITION}},
            ):
                records.extend(_version_from_item(item) for item in page.get("Items", []))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"registry list: {exc}") from exc
        return records

    def live_version(self) -> str | None:
        try:
            result = self.client.get_item(TableName=self.table, Key=_LIVE_KEY)
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"registry live pointer: {exc}") from exc
        item = result.get("Item")
        return item["version"]["S"] if item else None

    def promote(self, version: str, expected_live: str | None, promoted_at: str) -> None:
        if expected_live is None:
            pointer_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            pointer_condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"S": expected_live}},
            }
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {**_LIVE_KEY, "version": {"S": version},
                             "promoted_at": {"S": promoted_at}},
                    **pointer_condition,
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": MODEL_PARTITION}, "sk": {"S": version}},
                    "UpdateExpression": "SET #s = :live, promoted_at = :at",
                    # A version whose rows are being deleted can never go live again.
                    "ConditionExpression": "attribute_exists(pk) AND NOT (#s IN (:r0, :r1))",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":live": {"S": "live"},
                                                  ":at": {"S": promoted_at},
                                                  ":r0": {"S": RETIRING[0]},
                                                  ":r1": {"S": RETIRING[1]}},
                }
            },
        ]
        if expected_live and expected_live != version:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": MODEL_PARTITION}, "sk": {"S": expected_live}},
                        "UpdateExpression": "SET #s = :archived, superseded_at = :at",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":archived": {"S": "archived"},
                                                      ":at": {"S": promoted_at}},
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise PromotionRefused(
                    f"promotion of {version} refused: live pointer is no longer "
                    f"{expected_live}, or the version is unknown or its rows are deleted"
                ) from exc
            raise StoreError(f"registry promote {version}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"registry promote {version}: {exc}") from exc

    def retire(self, version: str) -> bool:
        """One transaction: the pointer does not name the version, and its record turns
        ``expiring``; promote's transaction refuses an ``expiring`` record, so the two cannot
        interleave."""
        items: list[dict[str, Any]] = [
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": _LIVE_KEY,
                    "ConditionExpression": "attribute_not_exists(pk) OR version <> :v",
                    "ExpressionAttributeValues": {":v": {"S": version}},
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": MODEL_PARTITION}, "sk": {"S": version}},
                    "UpdateExpression": "SET #s = :expiring",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":expiring": {"S": RETIRING[0]}},
                }
            },
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise StoreError(f"registry retire {version}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"registry retire {version}: {exc}") from exc
        return True


def _version_from_item(item: dict[str, Any]) -> ModelVersion:
    data = json.loads(item["record"]["S"])
    data["status"] = item["status"]["S"]
    data["promoted_at"] = item.get("promoted_at", {}).get("S", "")
    data["superseded_at"] = item.get("superseded_at", {}).get("S", "")
    return ModelVersion.from_dict(data)


REALTIME_TTL_S = 28 * 86_400


# Event ids one conditional append checks: each is a ``contains`` in the condition, and
# DynamoDB allows 300 operators and 4 KB per expression.
SEEN_CHECK = 100


def _seen_digest(event_id: str) -> str:
    """12 characters per remembered event id, whatever its length (ids may have 256)."""
    digest = hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=9).digest()
    return base64.urlsafe_b64encode(digest).decode()


class DynamoRealtimeStore:
    """Shoppers' recent events as DynamoDB lists appended in place (one write per shopper)."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self.client = client or boto3.client("dynamodb", config=REQUEST_CONFIG)

    def record(self, key: str, recent: Sequence[tuple[str, str, int]], shown: Sequence[str],
               now_ms: int, *, recent_ids: Sequence[str] | None = None,
               shown_ids: Sequence[str] | None = None) -> None:
        """One ``UpdateItem`` appending to the lists in place.

        With event ids, the item also keeps ``seen``, a list of short digests of the ids it
        recorded, and the append is conditioned on none of the new ids being in it. When some
        are (a retried request), DynamoDB returns the item with the refusal and only the
        entries it lacks are appended; a plain retry so costs one refused write. Serving's
        reader decodes ``recent`` and ``shown`` only, so ``seen`` changes nothing it reads.
        """
        # Only the newest entries of a call can survive the bounds. A list is trimmed once it
        # is half as long again as its bound, so before an append it holds at most 1.5 times
        # its bound and after at most 2.5 times: with the longest ids (1 KB each in UTF-8)
        # about 340 KB, inside DynamoDB's 400 KB item (trimming at twice the bound reached 400).
        recent, shown = recent[-RECENT_LIMIT:], shown[-SHOWN_LIMIT:]
        recent_ids = None if recent_ids is None else recent_ids[-RECENT_LIMIT:]
        shown_ids = None if shown_ids is None else shown_ids[-SHOWN_LIMIT:]
        if recent_ids is None and shown_ids is None:
            self._update(key, recent, shown, [], now_ms)  # unconditional: never refused
            return
        if len(recent) + len(shown) > SEEN_CHECK:  # one condition checks SEEN_CHECK ids
            for start in range(0, len(recent), SEEN_CHECK):
                self.record(key, recent[start:start + SEEN_CHECK], [], now_ms,
                            recent_ids=None if recent_ids is None
                            else recent_ids[start:start + SEEN_CHECK])
            for start in range(0, len(shown), SEEN_CHECK):
                self.record(key, [], shown[start:start + SEEN_CHECK], now_ms,
                            shown_ids=None if shown_ids is None
                            else shown_ids[start:start + SEEN_CHECK])
            return
        recent_digests = None if recent_ids is None else [_seen_digest(i) for i in recent_ids]
        shown_digests = None if shown_ids is None else [_seen_digest(i) for i in shown_ids]
        known: set[str] = set()
        for _ in range(MAX_ATTEMPTS):
            fresh = set(known)
            new_recent, recent_digest = unseen(recent, recent_digests, fresh)
            new_shown, shown_digest = unseen(shown, shown_digests, fresh)
            if not new_recent and not new_shown:
                return  # every entry was recorded before
            refused = self._update(key, new_recent, new_shown, recent_digest + shown_digest,
                                   now_ms)
            if refused is None:
                return
            known = refused
        raise StoreError(f"realtime update {loggable_key(key)}: too many concurrent updates")

    def _update(self, key: str, recent: Sequence[tuple[str, str, int]], shown: Sequence[str],
                digests: Sequence[str], now_ms: int) -> set[str] | None:
        """Append; None when done, or the item's ``seen`` digests when some of ``digests``
        were among them and nothing was written."""
        values: dict[str, Any] = {
            ":empty": {"L": []},
            ":recent": {"L": [{"S": f"{item}\t{event}\t{ts}"} for item, event, ts in recent]},
            ":shown": {"L": [{"S": item} for item in shown]},
            ":ttl": {"N": str(now_ms // 1000 + REALTIME_TTL_S)},
        }
        update = ("SET recent = list_append(if_not_exists(recent, :empty), :recent), "
                  "shown = list_append(if_not_exists(shown, :empty), :shown), expires_at = :ttl")
        condition: dict[str, Any] = {}
        if digests:
            values[":seen"] = {"L": [{"S": d} for d in digests]}
            values.update({f":s{n}": {"S": d} for n, d in enumerate(digests)})
            update += ", seen = list_append(if_not_exists(seen, :empty), :seen)"
            condition = {
                "ConditionExpression": "NOT (" + " OR ".join(
                    f"contains(seen, :s{n})" for n in range(len(digests))) + ")",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        try:
            result = self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}}, UpdateExpression=update,
                ExpressionAttributeValues=values, ReturnValues="UPDATED_NEW", **condition)
        except ClientError as exc:
            if digests and exc.response.get("Error", {}).get("Code") == (
                    "ConditionalCheckFailedException"):
                item = exc.response.get("Item") or self._item(key)
                return {value["S"] for value in item.get("seen", {}).get("L", [])}
            raise StoreError(f"realtime update {loggable_key(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"realtime update {loggable_key(key)}: {exc}") from exc
        attributes = result.get("Attributes", {})
        for name, limit in (("recent", RECENT_LIMIT), ("shown", SHOWN_LIMIT),
                            ("seen", SEEN_LIMIT)):
            length = len(attributes.get(name, {}).get("L", []))
            if length > limit + limit // 2:
                self._trim(key, name, length, length - limit)
        return None

    def _item(self, key: str) -> dict[str, Any]:
        """The ``seen`` list of a shopper's item, read consistently."""
        try:
            item: dict[str, Any] = self.client.get_item(
                TableName=self.table, Key={"pk": {"S": key}}, ProjectionExpression="seen",
                ConsistentRead=True).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"realtime read {loggable_key(key)}: {exc}") from exc
        return item

    def _trim(self, key: str, name: str, length: int, drop: int) -> None:
        """Drop the oldest entries, unless someone appended meanwhile (then next time)."""
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}},
                UpdateExpression="REMOVE " + ", ".join(f"{name}[{i}]" for i in range(drop)),
                ConditionExpression=f"size({name}) = :n",
                ExpressionAttributeValues={":n": {"N": str(length)}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise StoreError(f"realtime trim {loggable_key(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"realtime trim {loggable_key(key)}: {exc}") from exc

    def check_catalog(self, unavailable: set[str], available: set[str]) -> None:
        """Reads the shards the update adds to (consistently) and checks the result fits."""
        shards = sorted({unavailable_shard(item) for item in unavailable - available})
        if shards:
            check_unavailable_fits(self._unavailable_shards(shards), unavailable, available)

    def _unavailable_shards(self, shards: Sequence[int]) -> dict[int, set[str]]:
        """The shards' ids, read consistently: one GetItem per shard (at most
        ``UNAVAILABLE_SHARDS``, and only for updates that mark items unavailable)."""
        found: dict[int, set[str]] = {}
        for shard in shards:
            try:
                item = self.client.get_item(
                    TableName=self.table, Key={"pk": {"S": unavailable_key(shard)}},
                    ProjectionExpression="#items", ExpressionAttributeNames={"#items": "items"},
                    ConsistentRead=True).get("Item", {})
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"catalog state read: {exc}") from exc
            found[shard] = set(item.get("items", {}).get("SS", []))
        return found

    def update_catalog(self, unavailable: set[str], available: set[str],
                       new_arrivals: Sequence[list[Any]]) -> None:
        """One ``ADD`` per shard gaining items, one ``DELETE`` per shard losing some (set
        operations in place: concurrent updates do not overwrite each other)."""
        try:
            for action, items in (("ADD", unavailable - available), ("DELETE", available)):
                by_shard: dict[int, list[str]] = {}
                for item in items:
                    by_shard.setdefault(unavailable_shard(item), []).append(item)
                for shard, members in sorted(by_shard.items()):
                    self.client.update_item(
                        TableName=self.table, Key={"pk": {"S": unavailable_key(shard)}},
                        UpdateExpression=f"{action} #items :set",
                        ExpressionAttributeNames={"#items": "items"},
                        ExpressionAttributeValues={":set": {"SS": sorted(members)}})
            if new_arrivals:
                self._merge_new_arrivals(new_arrivals)
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"catalog state update: {exc}") from exc

    def _merge_new_arrivals(self, incoming: Sequence[list[Any]]) -> None:
        key = {"pk": {"S": NEW_ARRIVALS_KEY}}
        for attempt in range(MAX_ATTEMPTS):
            item = self.client.get_item(TableName=self.table, Key=key,
                                        ConsistentRead=True).get("Item")
            # Conditioned on the row as read (its revision, or its absence), so concurrent
            # updates retry; a row that cannot be decoded is replaced, never merged.
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
            current: Any = []
            revision = 0
            if item:
                stored_revision = item.get("rev")
                if stored_revision is None:
                    condition = {"ConditionExpression": "attribute_not_exists(rev)"}
                else:
                    condition = {"ConditionExpression": "rev = :rev",
                                 "ExpressionAttributeValues": {":rev": stored_revision}}
                    revision = int(stored_revision.get("N", 0))
                try:
                    current = decode_json(item.get("items", {}).get("S"))
                except ValueError:
                    current = None  # merge_new_arrivals drops it and logs
            merged = merge_new_arrivals(current, incoming)
            try:
                self.client.put_item(TableName=self.table, Item={
                    **key, "rev": {"N": str(revision + 1)},
                    "items": {"S": json.dumps(merged, separators=(",", ":"))}}, **condition)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                _backoff(attempt)
        raise StoreError("new arrivals: too many concurrent updates")


_RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable"})


def _retryable(exc: Exception) -> bool:
    """Throttling, a server error, a timeout or a dropped connection: worth one more try."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _RETRYABLE_CODES or status >= 500
    return isinstance(exc, HTTPClientError | BotoConnectionError)


class DynamoServingReader:
    """Everything one recommendation request needs, in one BatchGetItem over two tables.

    The read path's waiting is bounded by a ``Deadline`` (``budget_s`` from the request's
    start unless the caller passes one): an attempt starts only when a whole attempt (the
    client's connect and read timeouts, ``read_path_config``) still fits; at most one retry,
    of a throttled or failed call or of the keys DynamoDB left unprocessed, after
    ``READ_RETRY_BACKOFF_S``; then the keys still unread are absent, as if missing. The
    batch's stores retry far longer (``MAX_ATTEMPTS``): nobody waits on them.
    """

    def __init__(self, recommendations_table: str, realtime_table: str,
                 client: Any = None, budget_s: float = READ_BUDGET_S) -> None:
        self.recommendations_table = recommendations_table
        self.realtime_table = realtime_table
        self.client = client or boto3.client("dynamodb", config=read_path_config(budget_s))
        self.budget_s = budget_s
        self.attempt_s = 2 * budget_s / 3  # connect + read timeout of read_path_config

    def read(
        self, list_keys: Sequence[str], version: str | None, shopper_keys: Sequence[str],
        catalog: bool = False, deadline: Deadline | None = None, history: bool = False,
    ) -> tuple[dict[str, list[StoredEntry]], dict[str, RealtimeState], CatalogState | None]:
        deadline = deadline or Deadline.after(self.budget_s)
        request: dict[str, Any] = {}
        if version and list_keys:
            request[self.recommendations_table] = {
                "Keys": [{"pk": {"S": k}, "sk": {"S": version}}
                         for k in dict.fromkeys(list_keys)],
                "ProjectionExpression": "pk, #items, #history" if history else "pk, #items",
                "ExpressionAttributeNames": ({"#items": "items", "#history": HISTORY}
                                             if history else {"#items": "items"}),
            }
        realtime_keys = list(dict.fromkeys(shopper_keys))
        if catalog:
            realtime_keys += [*UNAVAILABLE_KEYS, NEW_ARRIVALS_KEY]
        if realtime_keys:
            request[self.realtime_table] = {"Keys": [{"pk": {"S": k}} for k in realtime_keys]}
        lists: dict[str, list[StoredEntry]] = {}
        shoppers: dict[str, RealtimeState] = {}
        state = CatalogState() if catalog else None
        if not request:
            return lists, shoppers, state
        if deadline.remaining() < self.attempt_s:
            raise StoreError("dynamodb batch get: the read budget is spent")
        answered = retried = False
        while request:
            try:
                result = self.client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                if not retried and _retryable(exc) and self._retry_fits(deadline):
                    retried = True
                    deadline.sleep(READ_RETRY_BACKOFF_S)
                    continue
                if answered:
                    break  # the first answer stands; what it left out stays unread
                raise StoreError(f"dynamodb batch get: {exc}") from exc
            answered = True
            self._collect(result.get("Responses", {}), lists, shoppers, state)
            request = result.get("UnprocessedKeys") or {}
            if request and not retried and self._retry_fits(deadline):
                retried = True
                deadline.sleep(READ_RETRY_BACKOFF_S)
            elif request:
                break
        if request:
            left = sum(len(table["Keys"]) for table in request.values())
            logger.warning("read path: %d keys left unread within the budget", left)
        return lists, shoppers, state

    def _retry_fits(self, deadline: Deadline) -> bool:
        return deadline.remaining() >= READ_RETRY_BACKOFF_S + self.attempt_s

    def _collect(self, responses: dict[str, Any], lists: dict[str, list[StoredEntry]],
                 shoppers: dict[str, RealtimeState], state: CatalogState | None) -> None:
        for item in responses.get(self.recommendations_table, []):
            _collect_list(item, lists)
            if HISTORY in item:
                items = decode_history(item[HISTORY].get("S"))
                if items is None:
                    skip_unreadable(item["pk"]["S"], "history")
                else:
                    shoppers.setdefault(item["pk"]["S"], RealtimeState()).history = items
        for item in responses.get(self.realtime_table, []):
            pk = item["pk"]["S"]
            if pk.startswith(UNAVAILABLE_PREFIX):
                if state is not None:
                    state.unavailable.update(item.get("items", {}).get("SS", []))
            elif pk == NEW_ARRIVALS_KEY:
                if state is not None:
                    try:
                        arrivals = decode_json(item.get("items", {}).get("S"))
                    except ValueError:
                        arrivals = None
                    if valid_arrivals(arrivals):
                        state.new_arrivals = arrivals
                    else:
                        skip_unreadable(pk, "new arrivals")
            else:
                shopper = _realtime_state(item)
                if shopper is None:
                    skip_unreadable(pk, "realtime")
                else:  # the history its list row gave, in this answer or an earlier one
                    shopper.history = shoppers[pk].history if pk in shoppers else []
                    shoppers[pk] = shopper


def _realtime_state(item: dict[str, Any]) -> RealtimeState | None:
    """A shopper's row, or None unless it holds tab-separated item, event and ts strings
    (``recent``) and item ids (``shown``)."""
    try:
        recent = []
        for value in item.get("recent", {}).get("L", []):
            item_id, event, ts = value["S"].rsplit("\t", 2)
            recent.append((item_id, event, int(ts)))
        shown = [value["S"] for value in item.get("shown", {}).get("L", [])]
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    if not all(type(item_id) is str for item_id in shown):
        return None
    return RealtimeState(recent=recent[-RECENT_LIMIT:], shown=shown[-SHOWN_LIMIT:])
