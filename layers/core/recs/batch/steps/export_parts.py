"""Step 4 on the Spark engine, export in three phases: start, one row file per child of the
state machine's Distributed Map, finish (``recs.batch.pipeline``).

The Spark job wrote the version's DynamoDB rows as Parquet files under
``layout.rows_prefix`` (``recs.formats.row_files``). The phases keep the single-node
export's guarantees (``recs.batch.steps.export``):

- start records the version ``exporting`` and stores the keys of every row before any row
  is written, so a version whose export dies half-way is found and deleted in time
  (``recs.batch.retire``), and counts the rows the files hold (``rows_expected``), reading
  only their ``key`` column;
- each part writes one file's rows and says how many it wrote; a part may run twice (the
  Map's retries): it writes the same rows under the same keys again;
- finish sums the parts' counts (``rows_written``), records the version ``exported`` and
  retires old versions, so promote checks the same two counts whichever engine trained.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from recs.batch.config import BatchConfig
from recs.batch.parquet_parts import read_columns
from recs.batch.pipeline import EXPORT_PARTS_PATH
from recs.batch.retire import retire_versions
from recs.batch.steps.export import start_record
from recs.contracts import layout
from recs.contracts.state import BatchState, Counts
from recs.exceptions import NotFound, SparkOutputError
from recs.formats import row_files
from recs.stores.ports import ModelRegistry, ObjectStore, RecommendationStore, RecRow


def row_file_keys(objects: ObjectStore, version: str) -> list[str]:
    """The version's row files, in key order (the order the Map's listing gives too)."""
    return [key for key in objects.list(layout.rows_prefix(version)) if layout.is_row_file(key)]


def export_start(state: BatchState, objects: ObjectStore, recommendations: RecommendationStore,
                 registry: ModelRegistry, config: BatchConfig,
                 now: datetime | None = None) -> BatchState:
    """Record the version as exporting, store its row keys, count its rows."""
    now = now or datetime.now(UTC)
    version = state["version"]
    files = row_file_keys(objects, version)
    if not files:
        raise SparkOutputError(f"no row files under {layout.rows_prefix(version)}")
    start_record(state, objects, registry, config, now)
    expected = 0

    def keys() -> Iterator[str]:
        """Each file's ``key`` column, a file at a time, counted on the way; only that
        column's bytes are fetched (``read_columns``), not the entries."""
        nonlocal expected
        for key in files:
            column = read_columns(objects, key, ["key"])
            expected += column.num_rows
            for batch in column.to_batches(max_chunksize=50_000):
                yield from batch.column(0).to_pylist()

    # The keys before the rows, so every row written can be found again to be deleted.
    recommendations.write_row_keys(version, keys())
    counts: Counts = {**state.get("counts", {}), "row_files": len(files),
                      "rows_expected": expected}
    return {**state, "counts": counts}


def export_part(version: str, key: str, objects: ObjectStore,
                recommendations: RecommendationStore) -> dict[str, Any]:
    """Write the rows of the row file at ``key``; ``{"key", "rows_written"}``. A key that is
    not one of the version's row files, or a row of another version, is refused: a child
    never writes rows the start did not count."""
    if not key.startswith(layout.rows_prefix(version)):
        raise SparkOutputError(f"{key} is not under version {version}'s rows "
                               f"({layout.rows_prefix(version)})")
    if not layout.is_row_file(key):
        return {"key": key, "rows_written": 0}  # a marker file beside the rows: no rows

    def rows() -> Iterator[RecRow]:
        for row in row_files.read(objects.get(key)):
            if row.version != version:
                raise SparkOutputError(f"{key} holds a row of version {row.version}, "
                                       f"expected {version}")
            yield row

    return {"key": key, "rows_written": recommendations.write(rows())}


def export_finish(state: BatchState, recommendations: RecommendationStore,
                  registry: ModelRegistry, config: BatchConfig,
                  now: datetime | None = None) -> BatchState:
    """Sum what the parts wrote into ``rows_written``, record the version exported (its
    record stays live on a re-run of the live version's day), retire old versions. The
    parts' results (the Map's ``EXPORT_PARTS_PATH``) leave the state here."""
    now = now or datetime.now(UTC)
    version = state["version"]
    fields: Mapping[str, Any] = state
    parts: Sequence[Mapping[str, Any]] = fields.get(EXPORT_PARTS_PATH) or []
    written = sum(int(part.get("rows_written", 0)) for part in parts)
    record = registry.get_version(version)
    if record is None:
        raise NotFound(f"model version {version} is not in the registry: its export "
                       "did not start")
    live = registry.live_version() == version
    counts: Counts = {**state.get("counts", {}), "rows_written": written}
    record.counts = counts
    record.status = "live" if live else "exported"
    registry.put_version(record)
    retired = retire_versions(recommendations, registry, config.model_ttl_days, now,
                              keep=version)
    rest: BatchState = {key: value for key, value in state.items()  # type: ignore[assignment]
                        if key != EXPORT_PARTS_PATH}
    return {**rest, "counts": counts, "retired": retired}
