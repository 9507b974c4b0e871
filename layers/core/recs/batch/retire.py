"""Delete the rows of versions that have been out of service for ``model_ttl_days``.

The export writes a version's rows without a DynamoDB TTL, so the live version's rows never
expire, however long the nightly runs fail or the gate refuses their candidates. The rows of
a version that is no longer live are kept ``model_ttl_days`` from the moment it stopped
being live (``superseded_at``; its creation for a version never promoted), so a rollback
can reach back that far, and are then deleted here: the export runs this after writing its
own version, for at most ``RETIRE_PER_RUN`` versions (oldest first), so a night's work
stays bounded; a backlog, after the batch did not run for a while, clears over the next
nights.

A version's row keys are stored beside its rows, in the same table (``KEYS#<n>`` chunks
under the version, written by the export before its first row): the table has no index by
version, a scan of the whole table per retired version would cost far more than the
deletes, and a list kept in S3 could expire with the bucket's lifecycle rules while the
version is still live. The registry marks a version ``expiring`` (in one conditional write
that fails while the pointer names it) before anything is deleted, and promote refuses an
``expiring`` or ``expired`` version, so a rollback cannot make a half-deleted version live;
a run that dies mid-way leaves it ``expiring`` and the next run finishes it. The key chunks
go last, so that run still finds the keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from recs.contracts.keys import row_keys_key
from recs.stores.ports import ModelRegistry, ModelVersion, RecommendationStore

RETIRE_PER_RUN = 2  # versions a run deletes at most: each takes about as long as an export
# Statuses whose rows may still be stored. "rejected" only counts when the version was
# exported (its counts say how many rows were written): the gate refuses before export.
_MAY_HOLD_ROWS = ("exporting", "exported", "archived", "rejected")


def out_of_service_since(record: ModelVersion) -> datetime | None:
    """When the version last stopped being live, or was made if it never was (the latest of
    its registry times); None when none of them is a timestamp."""
    times = []
    for text in (record.superseded_at, record.promoted_at, record.created_at):
        try:
            time = datetime.fromisoformat(text)
        except (TypeError, ValueError):
            continue
        times.append(time if time.tzinfo else time.replace(tzinfo=UTC))
    return max(times) if times else None


def due(records: Sequence[ModelVersion], live: str | None, keep: str | None,
        now: datetime, ttl_days: int) -> list[ModelVersion]:
    """The versions whose rows are to be deleted, oldest first: never ``live`` or ``keep``
    (the version being exported); those left ``expiring`` by an earlier run first."""
    limit = timedelta(days=ttl_days)
    found: list[tuple[int, datetime, ModelVersion]] = []
    for record in records:
        if record.version in (live, keep):
            continue
        since = out_of_service_since(record)
        if record.status == "expiring":
            found.append((0, since or now, record))
        elif (record.status in _MAY_HOLD_ROWS and since is not None and since + limit <= now
              and (record.status != "rejected" or "rows_written" in record.counts)):
            found.append((1, since, record))
    found.sort(key=lambda entry: (entry[0], entry[1], entry[2].version))
    return [record for _, _, record in found]


def retire_versions(recommendations: RecommendationStore,
                    registry: ModelRegistry, ttl_days: int, now: datetime,
                    keep: str | None = None) -> list[str]:
    """Delete the rows of up to ``RETIRE_PER_RUN`` due versions; the versions retired."""
    live = registry.live_version()
    retired: list[str] = []
    for record in due(registry.list_versions(), live, keep, now, ttl_days)[:RETIRE_PER_RUN]:
        if not registry.retire(record.version):
            continue  # live again meanwhile (a rollback): its rows stay
        chunks: list[str] = []
        # A version exported before its keys were kept has none: its rows carry a TTL.
        recommendations.delete(_row_keys(recommendations, record.version, chunks),
                               record.version)
        recommendations.delete(chunks, record.version)
        current = registry.get_version(record.version) or record
        current.status = "expired"
        registry.put_version(current)
        retired.append(record.version)
    return retired


def _row_keys(recommendations: RecommendationStore, version: str,
              chunks: list[str]) -> Iterator[str]:
    """The keys of the version's rows, streamed; the keys of their chunks go into
    ``chunks``, to be deleted after the rows."""
    for number, chunk in enumerate(recommendations.read_row_keys(version)):
        chunks.append(row_keys_key(number))
        yield from chunk
