"""Step 4, export: model artefact -> DynamoDB rows under the version, counted (numpy, scipy).

Rows carry no TTL: a version's rows stay while it is live, however long no newer model
replaces it, and ``recs.batch.retire`` (run here once the version is recorded) deletes the
rows of versions out of service for ``model_ttl_days``.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.batch import cold_items
from recs.batch.config import BatchConfig
from recs.batch.interactions import EVENT_RANK, SESSION_PREFIX
from recs.batch.model import Model
from recs.batch.retire import retire_versions
from recs.contracts import keys, layout
from recs.contracts.items import ItemFacts
from recs.contracts.keys import Entry
from recs.contracts.state import BatchState, Counts
from recs.exceptions import ExportFailed
from recs.stores.ports import ModelRegistry, ModelVersion, ObjectStore, RecommendationStore, RecRow

# Lists whose entries are made at once: few enough that a block's object table (seven
# pointers an entry) and its new lists stay in the CPU's cache while they are made and cut
# into rows; blocks of 2,000 lists took about two fifths more CPU.
EXPORT_BLOCK_ROWS = 250


def export_step(
    state: BatchState,
    objects: ObjectStore,
    recommendations: RecommendationStore,
    registry: ModelRegistry,
    config: BatchConfig,
    now: datetime | None = None,
    writers: Callable[[], RecommendationStore] | None = None,
) -> BatchState:
    """Write every list of the version to DynamoDB, record how many rows that was, then
    delete the rows of versions out of service for ``model_ttl_days``.

    A re-run of the live version's day rewrites the same rows and leaves its record live;
    any other version is recorded as ``exporting`` before its first row is written, so the
    rows of an export that dies half-way are found and deleted in time too.

    With ``writers`` (a factory of stores reaching the same table from another process) and
    ``RECS_EXPORT_PROCESSES`` above 1, the rows are made and written in that many shares at
    once, the others in forked processes (``_write_shares``)."""
    now = now or datetime.now(UTC)
    model = Model.from_bytes(objects.get(state["model_key"]))
    version = state["version"]
    catalog: dict[str, list[Any]] = (
        json.loads(objects.get(state["catalog_key"])) if state.get("catalog_key") else {})
    record, live = start_record(state, objects, registry, config, now)
    # The keys before the rows, so every row written can be found again to be deleted.
    recommendations.write_row_keys(version, row_keys(model, catalog))
    processes = config.export_processes if writers is not None else 1
    expected, written = _write_shares(model, version, catalog, recommendations, writers,
                                      processes)
    counts: Counts = {**state.get("counts", {}), "rows_expected": expected,
                      "rows_written": written}
    record.counts = counts
    record.status = "live" if live else "exported"
    registry.put_version(record)
    retired = retire_versions(recommendations, registry, config.model_ttl_days, now,
                              keep=version)
    return {**state, "counts": counts, "retired": retired}


def _write_share(store: RecommendationStore, model: Model, version: str,
                 catalog: dict[str, list[Any]], part: tuple[int, int]) -> tuple[int, int]:
    """Rows made and written for one share: (expected, written)."""
    expected = 0

    def counted() -> Iterator[RecRow]:
        nonlocal expected
        for row in export_rows(model, version, 0, catalog, part):
            expected += 1
            yield row

    written = store.write(counted())
    return expected, written


def _share_in_child(send: Connection, writers: Callable[[], RecommendationStore], model: Model,
                    version: str, catalog: dict[str, list[Any]], part: tuple[int, int]) -> None:
    try:
        outcome: tuple[Any, ...] = ("ok", *_write_share(writers(), model, version, catalog,
                                                        part))
    except BaseException as exc:  # reported to the parent, which fails the step
        outcome = ("failed", f"{type(exc).__name__}: {exc}")
    send.send(outcome)
    send.close()


def _write_shares(model: Model, version: str, catalog: dict[str, list[Any]],
                  store: RecommendationStore, writers: Callable[[], RecommendationStore] | None,
                  processes: int) -> tuple[int, int]:
    """Every row made and written, in ``processes`` shares at once: (expected, written).

    Making the rows (Python lists) and writing them (the SDK's requests) hold the GIL, so
    threads cannot share them; forked processes can, the model's arrays shared with them
    copy-on-write, and only counts come back through a pipe (Lambda has no /dev/shm, which
    multiprocessing's pools and queues need; processes and pipes work). Each child writes
    through its own store from ``writers``: a client made before the fork is not safe to
    share. Any share failing fails the step."""
    if writers is None or processes <= 1:
        return _write_share(store, model, version, catalog, (0, 1))
    context = multiprocessing.get_context("fork")
    children: list[tuple[BaseProcess, Connection]] = []
    try:
        for index in range(1, processes):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_share_in_child, daemon=True, args=(
                send, writers, model, version, catalog, (index, processes)))
            process.start()
            send.close()
            children.append((process, receive))
        expected, written = _write_share(store, model, version, catalog, (0, processes))
        failures: list[str] = []
        for child, receive in children:
            try:
                outcome = receive.recv()
            except EOFError:
                outcome = ("failed", "ended without a word")
            child.join()
            if outcome[0] == "ok":
                expected, written = expected + outcome[1], written + outcome[2]
            else:
                failures.append(f"share {len(failures) + 1}: {outcome[1]} "
                                f"(exit code {child.exitcode})")
    finally:
        for child, _ in children:
            if child.is_alive():
                child.kill()
                child.join()
    if failures:
        raise ExportFailed(f"export of {version}: " + "; ".join(failures))
    return expected, written


def start_record(state: BatchState, objects: ObjectStore, registry: ModelRegistry,
                 config: BatchConfig, now: datetime) -> tuple[ModelVersion, bool]:
    """The version's registry record as its export starts, and whether it is live. A version
    that is not live is recorded ``exporting`` here, before its first row is written; the
    live version's record (a re-run of its day) is left as it is."""
    version = state["version"]
    stored = registry.get_version(version)
    live = registry.live_version() == version
    record = ModelVersion(
        version=version,
        status="live" if live else "exporting",
        created_at=(stored.created_at if stored and live
                    else now.isoformat(timespec="seconds")),
        window_start=state.get("window_start", ""),
        window_end=state["as_of"],
        params=(json.loads(objects.get(state["params_key"])) if state.get("params_key")
                else config.as_dict()),
        counts=state.get("counts", {}),
        metrics={**state.get("metrics", {}), "tuning": state.get("tuning", {})},
        prefix=layout.model_prefix(version),
        promoted_at=stored.promoted_at if stored else "",
        superseded_at=stored.superseded_at if stored else "",
        skipped=state.get("skipped", {}),
    )
    if not live:
        registry.put_version(record)
    return record, live


def row_keys(model: Model, catalog: dict[str, list[Any]] | None = None) -> Iterator[str]:
    """Every key ``export_rows`` may write for ``model`` and ``catalog``: a superset, since a
    list that only unavailable items filled has no row (deleting a key without a row is
    harmless)."""
    yield from shopper_keys(model.user_ids[np.diff(model.rec_indptr) > 0]).tolist()
    yield from item_keys(model.item_ids[np.diff(model.similarity.indptr) > 0]).tolist()
    yield keys.GLOBAL_TRENDING
    for name in model.category_names.tolist():
        yield keys.category_key(str(name))
    for item in cold_items.new_items(model.item_ids.tolist(), catalog or {}):
        yield keys.item_key(item)


def shopper_keys(user_ids: np.ndarray) -> np.ndarray:
    """Each user's row key: ``keys.user_key`` of the id, or ``keys.session_key`` of the
    session an anonymous pseudo-user (``SESSION_PREFIX``) stands for. Made for the whole
    column at once, not a Python call per user."""
    uid = np.asarray(user_ids).astype(str)
    user = np.strings.add(keys.USER_PREFIX, uid)
    session = np.strings.startswith(uid, SESSION_PREFIX)
    if not session.any():
        return user
    return np.where(session, np.strings.add(
        keys.SESSION_PREFIX, np.strings.slice(uid, len(SESSION_PREFIX), None)), user)


def item_keys(item_ids: np.ndarray) -> np.ndarray:
    """Each item's ``keys.item_key``, the whole column at once (as ``shopper_keys``)."""
    return np.strings.add(keys.ITEM_PREFIX, np.asarray(item_ids).astype(str))


def item_facts(model: Model, catalog: dict[str, list[Any]]) -> tuple[list[Any], list[Any],
                                                                       set[int]]:
    """Per item index: category, title, and the set of unavailable indices.

    ``catalog`` is the weight step's snapshot, each item's ``ItemFacts`` as a JSON list. The
    catalog wins; otherwise an item's category is the most specific trending list it is in
    (events report categories, the train step builds those lists from them).
    """
    items = model.item_ids.tolist()
    categories: list[Any] = [None] * len(items)
    for index, name in enumerate(model.category_names.tolist()):
        start, stop = model.category_indptr[index], model.category_indptr[index + 1]
        for i in model.category_items[start:stop].tolist():
            if categories[i] is None or len(name) > len(categories[i]):
                categories[i] = name
    titles: list[Any] = [None] * len(items)
    unavailable = set()
    for i, item_id in enumerate(items):
        stored = catalog.get(item_id)
        if stored:
            facts = ItemFacts._make(stored)
            categories[i] = facts.category or categories[i]
            titles[i] = facts.title
            if facts.available is False:
                unavailable.add(i)
    return categories, titles, unavailable


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Entries are lists of plain values (no reference cycles), yet the collector traverses
    every one of them (and again as they age into the older generations) each time enough
    of them were made: a block's hundreds of thousands of lists cost more to collect than
    to make, and re-enabling it after each block only moved that collection to the next
    allocation. While paused, ``_collect_between_blocks`` collects when nothing of ours is
    held, which also bounds what a consumer's own cycles can hold."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _collect_between_blocks() -> None:
    """The young generations, between two blocks: only what the consumer still holds is
    there to traverse."""
    gc.collect(1)


def bounded_history(items: list[str]) -> list[str]:
    """The first of ``items`` whose JSON (as stored: ASCII, no spaces) fits in
    ``keys.HISTORY_MAX_BYTES``; measured exactly only when the cheap bound (12 bytes per
    character, an escaped astral one) does not settle it."""
    if sum(len(item) * 12 + 3 for item in items) <= keys.HISTORY_MAX_BYTES:
        return items
    size, kept = 1, []
    for item in items:
        size += len(json.dumps(item)) + 1
        if size > keys.HISTORY_MAX_BYTES:
            break
        kept.append(item)
    return kept


def _histories_within_bound(model: Model) -> np.ndarray:
    """Per user: whether ``bounded_history``'s cheap bound already keeps the whole history
    (summed over the history arrays at once instead of a Python loop per user's items)."""
    n_users = model.rec_indptr.size - 1
    indptr = model.history_indptr
    if indptr.size != n_users + 1 or indptr[-1] == 0:
        return np.ones(n_users, dtype=bool)
    per_item = np.strings.str_len(model.item_ids.astype(str)).astype(np.int64) * 12 + 3
    user = np.repeat(np.arange(n_users), np.diff(indptr))
    bound = np.bincount(user, weights=per_item[model.history_items], minlength=n_users)
    return bound <= keys.HISTORY_MAX_BYTES


def neighbour_order(sim: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """The order of ``sim``'s stored values that lists each row's best first, ties by
    column: ``np.lexsort((sim.indices, -sim.data, rows))``. For float32 scores in a matrix
    whose columns are sorted within each row (the model artefact's), one stable sort of a
    64-bit key (the row, then the score's bits flipped to sort as unsigned integers) gives
    the same order in a sixth of the time; otherwise the lexsort itself."""
    if (sim.data.dtype != np.float32 or not sim.has_sorted_indices
            or np.isnan(sim.data).any()):
        return np.lexsort((sim.indices, -sim.data, rows))
    # + 0 makes -0.0 a 0.0, as the lexsort's comparison sees it.
    bits = (np.negative(sim.data) + np.float32(0)).view(np.uint32)
    ascending = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(1 << 31))
    key = (rows.astype(np.uint64) << np.uint64(32)) | ascending.astype(np.uint64)
    return np.argsort(key, kind="stable")


def export_rows(model: Model, version: str, expires_at: int,
                catalog: dict[str, list[Any]] | None = None,
                part: tuple[int, int] = (0, 1)) -> Iterator[RecRow]:
    """Rows: ``U#``/``S#`` user lists (with the user's ``history``), ``I#`` neighbours,
    ``POP#global``, ``POP#C#<cat>`` (``recs.contracts.keys``), then the ``I#`` rows of the
    catalog's items the model has no column for (``recs.batch.cold_items``).

    Each entry is a list laid out as ``recs.contracts.keys.Entry``; unavailable items are
    left out of every list. A block of lists at a time, the entries are made from whole
    columns as one object table turned into lists at once, and the rows' keys and
    histories are cut from whole columns too: a Python call per entry or per row, and the
    collector's passes over the new lists, were most of the export's time. A block's
    entries are dropped once its rows are yielded, so memory stays flat. The collector is
    paused while the rows are made (``_collector_paused``).

    ``part=(i, n)`` yields the ``i``-th of ``n`` disjoint shares that together are every row:
    the ``i``-th range of users and of items, and in share 0 the trending and new items' rows.
    """
    with _collector_paused():
        yield from _rows(model, version, expires_at, catalog, part)


def _share(rows: int, part: tuple[int, int]) -> tuple[int, int]:
    """Part ``i`` of ``n`` of ``rows`` rows, in whole blocks so no block is cut."""
    index, parts = part
    blocks = -(-rows // EXPORT_BLOCK_ROWS)
    return (min(rows, blocks * index // parts * EXPORT_BLOCK_ROWS),
            min(rows, blocks * (index + 1) // parts * EXPORT_BLOCK_ROWS))


def _rows(model: Model, version: str, expires_at: int,
          catalog: dict[str, list[Any]] | None, part: tuple[int, int]) -> Iterator[RecRow]:
    categories, titles, unavailable = item_facts(model, catalog or {})
    # Index -1 (no "because" item) picks the trailing None of each column.
    ids = np.asarray([*model.item_ids.tolist(), None], dtype=object)
    cats = np.asarray([*categories, None], dtype=object)
    names = np.asarray([*titles, None], dtype=object)
    available = np.ones(ids.size - 1, dtype=bool)
    available[list(unavailable)] = False

    def entries(item: np.ndarray, score: np.ndarray, because: np.ndarray,
                event: np.ndarray | str) -> list[list[Any]]:
        """The entries as one object table, a column per field, made into lists at once
        (``tolist`` of the table: a third less time than zipping seven column lists)."""
        columns = {"item": ids[item], "score": np.round(score.astype(np.float64), 4),
                   "because": ids[because], "event": event, "category": cats[item],
                   "title": names[item], "because_title": names[because]}
        table = np.empty((item.size, len(Entry._fields)), dtype=object)
        for position, name in enumerate(Entry._fields):
            table[:, position] = columns[name]
        return table.tolist()  # type: ignore[no-any-return]

    # Event labels by code: the user's strongest event on the reason (-1: "view"), and
    # "similar" for the neighbour lists.
    labels = np.asarray([*EVENT_RANK, "view", keys.SIMILAR_EVENT], dtype=object)
    view, similar = len(EVENT_RANK), len(EVENT_RANK) + 1

    def blocks(indptr: np.ndarray, item: np.ndarray, score: np.ndarray, because: np.ndarray,
               event: np.ndarray) -> Iterator[tuple[int, int, np.ndarray, list[list[Any]],
                                                    list[int], list[int]]]:
        """Per block of rows, in row order: its first and last row, the rows with any
        available entry, the block's available entries, and where each such row's start
        and end in them. The columns are cut a block of rows at a time, so no whole-model
        copy is made; only this part's share of the rows."""
        begin, end = _share(indptr.size - 1, part)
        for first in range(begin, end, EXPORT_BLOCK_ROWS):
            _collect_between_blocks()
            last = min(first + EXPORT_BLOCK_ROWS, end)
            lo, hi = int(indptr[first]), int(indptr[last])
            keep = available[item[lo:hi]]
            bounds = np.r_[0, np.cumsum(keep)][indptr[first:last + 1] - lo]
            filled = np.flatnonzero(bounds[1:] > bounds[:-1])
            block = entries(item[lo:hi][keep], score[lo:hi][keep], because[lo:hi][keep],
                            labels[event[lo:hi][keep]])
            yield (first, last, filled, block, bounds[filled].tolist(),
                   bounds[filled + 1].tolist())
            # Emptied, not just dropped: the caller's loop still holds it while the next
            # block's collection runs, which would traverse every entry again.
            block.clear()

    shopper = shopper_keys(model.user_ids)
    events = model.rec_because_event
    history_indptr = model.history_indptr
    has_history = history_indptr.size == model.user_ids.size + 1
    within = _histories_within_bound(model)
    for first, last, filled, block, starts, stops in blocks(
            model.rec_indptr, model.rec_items, model.rec_scores, model.rec_because,
            np.where((events >= 0) & (events < view), events, view).astype(np.int8)):
        users = filled + first
        block_keys = shopper[users].tolist()
        if not has_history:
            for key, start, stop in zip(block_keys, starts, stops, strict=True):
                yield RecRow(key, version, block[start:stop], expires_at, [])
            continue
        # The block's histories as one list, each user's a slice of it.
        h_lo = int(history_indptr[first])
        history = ids[model.history_items[h_lo:int(history_indptr[last])]].tolist()
        h_starts = (history_indptr[users] - h_lo).tolist()
        h_stops = (history_indptr[users + 1] - h_lo).tolist()
        for key, start, stop, h_start, h_stop, whole in zip(
                block_keys, starts, stops, h_starts, h_stops, within[users].tolist(),
                strict=True):
            kept = history[h_start:h_stop]
            yield RecRow(key, version, block[start:stop], expires_at,
                         kept if whole else bounded_history(kept))
    sim = model.similarity
    neighbour_keys = item_keys(model.item_ids)
    rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
    order = neighbour_order(sim, rows)
    for first, _, filled, block, starts, stops in blocks(
            sim.indptr, sim.indices[order], sim.data[order], rows[order],
            np.full(order.size, similar, dtype=np.int8)):
        for key, start, stop in zip(neighbour_keys[filled + first].tolist(), starts, stops,
                                    strict=True):
            yield RecRow(key, version, block[start:stop], expires_at)

    if part[0] != 0:
        return

    def popular(item: np.ndarray, score: np.ndarray) -> list[list[Any]]:
        keep = available[item]
        return entries(item[keep], score[keep], np.full(int(keep.sum()), -1), "trending")

    yield RecRow(keys.GLOBAL_TRENDING, version,
                 popular(model.trending_items, model.trending_scores), expires_at)
    for index, name in enumerate(model.category_names.tolist()):
        start, stop = model.category_indptr[index], model.category_indptr[index + 1]
        yield RecRow(keys.category_key(name), version,
                     popular(model.category_items[start:stop],
                             model.category_scores[start:stop]), expires_at)
    # Last, the catalog's new items: neighbours by content until a night trains on them.
    yield from cold_items.content_rows(model.item_ids.tolist(), catalog or {}, version,
                                       cold_items.NEIGHBOURS, expires_at)
