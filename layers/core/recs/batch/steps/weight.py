"""Step 1, weight: the window's event partitions -> weighted interactions (pyarrow, numpy).

The window's events are not copied: the step lists the event files it read under the version
(``layout.window_files``), and the steps that need the events themselves (a tuning train
step, evaluate's hold-out) read those files again (``recs.batch.window.read_listed``).

Inputs it cannot use (an event file it cannot read, a catalog line it cannot decode) are
skipped and reported in the state's ``skipped`` and ``counts``, which export and promote
copy into the version's registry record and the handler turns into the ``UnreadableInputs``
metric; past ``RECS_MAX_UNREADABLE_SHARE`` of either kind's bytes the step fails instead.

The step also chooses the engine that trains the window (``recs.batch.engine``): it counts
the window's events from the event files' Parquet footers before it decodes a row, and a
window for the Spark job gets only the catalog snapshot here (the job reads the events
itself, on as many executors as they need). With ``RECS_ENGINE=lambda`` nothing is counted
twice: the footers are not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from recs.batch import engine as engines
from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.parquet_parts import FOOTER_GUESS_BYTES, parquet_rows
from recs.batch.reclaim import release_memory
from recs.batch.steps import as_of, midnight_ms
from recs.batch.weighting import WindowArrays, tunes, weight_arrays, window_arrays
from recs.batch.window import (
    REASON_CHARS,
    FileReport,
    put_listing,
    read_window,
    window_keys,
)
from recs.contracts import layout
from recs.contracts.ids import model_version
from recs.contracts.items import FACT_CATEGORY, CatalogRecord, ItemFacts
from recs.contracts.state import MAX_REPORTED, BatchState, Counts, Skipped, SkippedInput
from recs.exceptions import NotFound, UnreadableInput
from recs.formats import catalog_deltas
from recs.stores.ports import ObjectStore

_NO_FACTS = ItemFacts(None, None, True)


def weight_step(state: BatchState, objects: ObjectStore, config: BatchConfig) -> BatchState:
    """Read the window's partitions (only the needed columns), weight, write interactions."""
    day = as_of(state)
    start = day - timedelta(days=config.training_window_days)
    keys = window_keys(objects.list(layout.EVENTS), start, day)
    catalog_keys = [k for k in objects.list(layout.CATALOG) if layout.is_catalog_delta(k)]
    version = model_version(day, keys + catalog_keys, config.as_dict())
    # The catalog first: it is small, and a catalog too broken to use fails the run at once.
    catalog_report = FileReport()
    items, bad_lines = catalog_deltas.fold(_deltas(objects, catalog_keys, catalog_report))
    catalog_report.skipped = sorted([*catalog_report.skipped, *bad_lines],
                                    key=lambda s: (s.get("key", ""), s.get("line", 0)))
    refuse_past_share("catalog", catalog_report, config.max_unreadable_share)
    if config.engine != engines.LAMBDA:
        sized = FileReport()
        footer_events = window_size(objects, keys, sized)
        if engines.choose(config, footer_events) == engines.SPARK:
            refuse_past_share("events", sized, config.max_unreadable_share)
            return _for_spark(state, objects, version, start, keys, items, footer_events,
                              sized, catalog_report)
    events_report = FileReport()
    table = read_window(objects, keys, events_report)  # deduplicated, without the ids
    refuse_past_share("events", events_report, config.max_unreadable_share)
    # Tuning and the promotion gate need event times, not sums: they read these files again.
    window_key = layout.window_files(version)
    put_listing(objects, window_key, keys, events_report)
    events = table.num_rows
    facts = catalog_facts(items)
    summed: dict[str, Any] = {}
    # A tuning train step weights the events it tunes on: no sums here then.
    arrays = None if tunes(config, events) else window_arrays(table, config, midnight_ms(day))
    del table  # the table's strings were the step's peak: gone before the sums
    if arrays is not None:
        release_memory()
        summed = _weighted(arrays, objects, version, config, day, facts)
        del arrays
    catalog_key = put_catalog_snapshot(objects, version, facts)
    return {
        **state,
        "as_of": day.isoformat(),
        "window_start": start.isoformat(),
        "version": version,
        "engine": engines.LAMBDA,
        **({"interactions_key": summed["interactions_key"]} if summed else {}),
        "catalog_key": catalog_key,
        "window_key": window_key,
        "counts": {**_input_counts(keys, events, items, events_report, catalog_report),
                   **summed.get("counts", {})},
        "skipped": _skipped(events_report, catalog_report),
    }


def _weighted(arrays: WindowArrays, objects: ObjectStore, version: str, config: BatchConfig,
              day: date, facts: Mapping[str, ItemFacts]) -> dict[str, Any]:
    """The window's interactions (from ``arrays``, consumed), written to the version: their
    key and counts."""
    interactions = weight_arrays(arrays, config, midnight_ms(day))
    release_memory()  # the sums' scratch, before the interactions file is written
    apply_catalog_categories(interactions, facts)
    summed: dict[str, Any] = {
        "interactions_key": layout.interactions(version),
        "counts": {"users": interactions.n_users, "items": interactions.n_items,
                   "interactions": int(interactions.weight.size)}}
    objects.put(summed["interactions_key"], interactions.to_bytes())
    return summed


def window_size(objects: ObjectStore, keys: Sequence[str], report: FileReport) -> int:
    """The events in the files at ``keys``, from their Parquet footers (no row is decoded;
    duplicates across files count each time, so this is an upper bound of the deduplicated
    window). A file whose footer cannot be read is noted in ``report`` as ``read_window``
    would skip it."""
    events = 0
    for key in keys:
        try:
            tail, size = objects.tail(key, FOOTER_GUESS_BYTES)
        except NotFound:
            report.skipped.append({"key": key, "reason": "listed but no longer stored",
                                   "bytes": 0})
            continue
        report.bytes += size
        try:
            events += parquet_rows(objects, key, tail, size)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            reason = f"not a readable Parquet file: {' '.join(str(exc).split())}"
            report.skipped.append({"key": key, "reason": reason[:REASON_CHARS], "bytes": size})
    return events


def _for_spark(state: BatchState, objects: ObjectStore, version: str, start: date,
               keys: Sequence[str], items: Mapping[str, CatalogRecord], events: int,
               sized: FileReport, catalog_report: FileReport) -> BatchState:
    """The state a window for the Spark job leaves: the version, the window, its size and the
    catalog snapshot (the job trains on the catalog the Lambda path would)."""
    catalog_key = put_catalog_snapshot(objects, version, catalog_facts(items))
    return {
        **state,
        "as_of": as_of(state).isoformat(),
        "window_start": start.isoformat(),
        "version": version,
        "engine": engines.SPARK,
        "catalog_key": catalog_key,
        "counts": _input_counts(keys, events, items, sized, catalog_report),
        "skipped": _skipped(sized, catalog_report),
    }


def _input_counts(keys: Sequence[str], events: int, items: Mapping[str, CatalogRecord],
                  events_report: FileReport, catalog_report: FileReport) -> Counts:
    """What the window's inputs held and what of them could not be used, on either engine."""
    return {
        "partitions": len(keys),
        "events": events,
        "catalog_items": len(items),
        "event_bytes": events_report.bytes,
        "skipped_event_files": len(events_report.skipped),
        "skipped_event_bytes": events_report.skipped_bytes,
        "catalog_bytes": catalog_report.bytes,
        "skipped_catalog_lines": len(catalog_report.skipped),
        "skipped_catalog_bytes": catalog_report.skipped_bytes,
    }


def _skipped(events_report: FileReport, catalog_report: FileReport) -> Skipped:
    return {"events": events_report.skipped[:MAX_REPORTED],
            "catalog": catalog_report.skipped[:MAX_REPORTED]}


def catalog_facts(items: Mapping[str, CatalogRecord]) -> dict[str, ItemFacts]:
    return {i: ItemFacts(v.get("category"), v.get("title"), v.get("available", True))
            for i, v in items.items()}


def put_catalog_snapshot(objects: ObjectStore, version: str,
                         facts: Mapping[str, ItemFacts]) -> str:
    """Write the catalog facts the version trains with; their key."""
    catalog_key = layout.catalog_snapshot(version)
    objects.put(catalog_key, json.dumps(facts, separators=(",", ":")).encode())
    return catalog_key


def _deltas(objects: ObjectStore, keys: Sequence[str],
            report: FileReport) -> Iterator[tuple[str, bytes]]:
    """The catalog deltas at ``keys``, one at a time, their bytes counted in ``report`` (a
    delta listed but gone since is reported there too)."""
    for key in keys:
        try:
            blob = objects.get(key)
        except NotFound:
            report.skipped.append({"key": key, "reason": "listed but no longer stored",
                                   "bytes": 0})
            continue
        report.bytes += len(blob)
        yield key, blob


def refuse_past_share(kind: str, report: FileReport, limit: float) -> None:
    """Raise ``UnreadableInput`` when the skipped inputs hold more than ``limit`` of the
    bytes: measured in bytes, not files, so an empty file costs nothing and a big unreadable
    one counts for what it held."""
    share = report.skipped_bytes / report.bytes if report.bytes else 0.0
    if share > limit:
        examples = [_describe(s) for s in report.skipped[:3]]
        raise UnreadableInput(kind, len(report.skipped), share, limit, examples)


def _describe(skipped: SkippedInput) -> str:
    line = f" line {skipped['line']}" if "line" in skipped else ""
    return f"{skipped.get('key')}{line}: {skipped.get('reason')}"


def apply_catalog_categories(interactions: Interactions,
                             facts: Mapping[str, Sequence[Any]]) -> None:
    """The catalog's category beats the one events reported (``facts`` maps item ids to
    ``ItemFacts``, or to the lists they are in JSON)."""
    if not facts:
        return
    known = np.array([(facts.get(i) or _NO_FACTS)[FACT_CATEGORY] or ""
                      for i in interactions.item_ids.tolist()], dtype=str)
    interactions.item_category = np.where(known != "", known, interactions.item_category)
