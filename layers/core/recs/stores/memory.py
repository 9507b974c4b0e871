"""In-memory stores: the fakes unit tests and the serving benchmark run against."""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from recs.contracts.experiments import (
    Experiment,
    Outcome,
    VariantCounts,
    add_outcome,
    combine,
)
from recs.contracts.keys import NEW_ARRIVALS_KEY, StoredEntry, row_keys_key, unavailable_shard
from recs.contracts.ops import HEALTH_COUNTS, DayHealth, TierCounts
from recs.exceptions import Conflict, NotFound, PromotionRefused
from recs.stores.ports import (
    RECENT_LIMIT,
    RETIRING,
    SEEN_LIMIT,
    SHOWN_LIMIT,
    UNIT_EVENT_IDS,
    CatalogState,
    Deadline,
    ExactCounts,
    ModelVersion,
    RealtimeState,
    RecRow,
    UnitTotals,
    check_unavailable_fits,
    decode_entries,
    decode_history,
    merge_new_arrivals,
    row_key_chunks,
    skip_unreadable,
    unseen,
    valid_arrivals,
    valid_realtime,
)


class MemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = bytes(body)

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError as exc:
            raise NotFound(f"no object at {key}") from exc

    def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def tail(self, key: str, size: int) -> tuple[bytes, int]:
        body = self.get(key)
        return body[max(len(body) - size, 0):], len(body)

    def span(self, key: str, start: int, size: int) -> bytes:
        return self.get(key)[start:start + size]


class MemoryEventQueue:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def send(self, bodies: Sequence[str]) -> None:
        self.messages.extend(bodies)


class MemoryRecommendationStore:
    """Lists kept as the JSON DynamoDB holds, so reads pay the same decoding cost.

    DynamoDB deletes a row some time after its TTL (``expires_at``, epoch seconds) and
    serves it until then. Given ``clock`` (epoch seconds), this store instead hides a row as
    soon as its TTL has passed by that clock: the worst case, for tests that let time pass.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.rows: dict[tuple[str, str], str] = {}
        self.expires_at: dict[tuple[str, str], int] = {}
        self.row_keys: dict[tuple[str, str], str] = {}  # (KEYS#<n>, version): JSON list
        self.history: dict[tuple[str, str], str] = {}  # a shopper row's ``history``: JSON
        self.clock = clock

    def write(self, rows: Iterable[RecRow]) -> int:
        written = 0
        for row in rows:
            self.rows[(row.key, row.version)] = json.dumps(row.items, separators=(",", ":"))
            self.expires_at[(row.key, row.version)] = row.expires_at
            if row.history:
                self.history[(row.key, row.version)] = json.dumps(
                    list(row.history), separators=(",", ":"))
            else:
                self.history.pop((row.key, row.version), None)
            written += 1
        return written

    def delete(self, keys: Iterable[str], version: str) -> int:
        sent = 0
        for key in keys:
            self.rows.pop((key, version), None)
            self.expires_at.pop((key, version), None)
            self.history.pop((key, version), None)
            self.row_keys.pop((key, version), None)
            sent += 1
        return sent

    def write_row_keys(self, version: str, keys: Iterable[str]) -> int:
        count = 0
        for count, chunk in enumerate(row_key_chunks(keys), 1):
            self.row_keys[(row_keys_key(count - 1), version)] = json.dumps(chunk)
        return count

    def read_row_keys(self, version: str) -> Iterator[list[str]]:
        for chunk in itertools.count():
            stored = self.row_keys.get((row_keys_key(chunk), version))
            if stored is None:
                return
            yield json.loads(stored)

    def get_many(self, keys: Sequence[str], version: str) -> dict[str, list[StoredEntry]]:
        found = {}
        for key in keys:
            row = self.rows.get((key, version))
            if row is None or self._expired(key, version):
                continue
            entries = decode_entries(row)
            if entries is None:
                skip_unreadable(key, "list")
            else:
                found[key] = entries
        return found

    def get_history(self, keys: Sequence[str], version: str) -> dict[str, list[str]]:
        """The ``history`` of each of ``keys``' rows that has one (and is not expired)."""
        found = {}
        for key in keys:
            stored = self.history.get((key, version))
            if stored is None or (key, version) not in self.rows or self._expired(key, version):
                continue
            items = decode_history(stored)
            if items is None:
                skip_unreadable(key, "history")
            else:
                found[key] = items
        return found

    def _expired(self, key: str, version: str) -> bool:
        expires_at = self.expires_at.get((key, version), 0)
        return bool(self.clock is not None and expires_at and expires_at <= self.clock())


class MemoryModelRegistry:
    def __init__(self) -> None:
        self.versions: dict[str, ModelVersion] = {}
        self.live: str | None = None
        self._lock = threading.Lock()

    def put_version(self, record: ModelVersion) -> None:
        self.versions[record.version] = copy.deepcopy(record)

    def get_version(self, version: str) -> ModelVersion | None:
        record = self.versions.get(version)
        return copy.deepcopy(record) if record else None

    def list_versions(self) -> list[ModelVersion]:
        return [copy.deepcopy(self.versions[v]) for v in sorted(self.versions)]

    def live_version(self) -> str | None:
        return self.live

    def promote(self, version: str, expected_live: str | None, promoted_at: str) -> None:
        with self._lock:
            if version not in self.versions:
                raise PromotionRefused(f"unknown model version {version}")
            if self.live != expected_live:
                raise PromotionRefused(
                    f"live model changed to {self.live} while promoting {version}"
                )
            if self.versions[version].status in RETIRING:
                raise PromotionRefused(f"the rows of model version {version} are deleted")
            previous = self.live
            if previous and previous != version:
                self.versions[previous].status = "archived"
                self.versions[previous].superseded_at = promoted_at
            self.versions[version].status = "live"
            self.versions[version].promoted_at = promoted_at
            self.live = version

    def retire(self, version: str) -> bool:
        with self._lock:
            if version not in self.versions or self.live == version:
                return False
            self.versions[version].status = "expiring"
            return True


class MemoryRealtimeStore:
    def __init__(self) -> None:
        self.shoppers: dict[str, RealtimeState] = {}
        self.catalog = CatalogState()
        self.seen: dict[str, list[str]] = {}  # a shopper's last SEEN_LIMIT event ids
        self._lock = threading.Lock()

    def record(self, key: str, recent: Sequence[tuple[str, str, int]], shown: Sequence[str],
               now_ms: int, *, recent_ids: Sequence[str] | None = None,
               shown_ids: Sequence[str] | None = None) -> None:
        with self._lock:
            state = self.shoppers.setdefault(key, RealtimeState())
            if recent_ids is not None or shown_ids is not None:
                seen = self.seen.setdefault(key, [])
                remembered = set(seen)
                recent, new_recent = unseen(recent, recent_ids, remembered)
                shown, new_shown = unseen(shown, shown_ids, remembered)
                seen.extend(new_recent + new_shown)
                del seen[:-SEEN_LIMIT]
            state.recent = (state.recent + list(recent))[-RECENT_LIMIT:]
            state.shown = (state.shown + list(shown))[-SHOWN_LIMIT:]

    def check_catalog(self, unavailable: set[str], available: set[str]) -> None:
        shards = {unavailable_shard(item) for item in unavailable}
        with self._lock:
            current: dict[int, set[str]] = {}
            for item in self.catalog.unavailable:
                shard = unavailable_shard(item)
                if shard in shards:
                    current.setdefault(shard, set()).add(item)
        check_unavailable_fits(current, unavailable, available)

    def update_catalog(self, unavailable: set[str], available: set[str],
                       new_arrivals: Sequence[list[Any]]) -> None:
        with self._lock:
            self.catalog.unavailable = (self.catalog.unavailable | unavailable) - available
            self.catalog.new_arrivals = merge_new_arrivals(self.catalog.new_arrivals,
                                                           new_arrivals)


class MemoryServingReader:
    """Reads both in-memory stores; ``round_trips`` counts calls as DynamoDB would bill them."""

    def __init__(self, recommendations: MemoryRecommendationStore,
                 realtime: MemoryRealtimeStore) -> None:
        self.recommendations = recommendations
        self.realtime = realtime
        self.round_trips = 0

    def read(
        self, list_keys: Sequence[str], version: str | None, shopper_keys: Sequence[str],
        catalog: bool = False, deadline: Deadline | None = None, history: bool = False,
    ) -> tuple[dict[str, list[StoredEntry]], dict[str, RealtimeState], CatalogState | None]:
        """As DynamoDB's reader: rows of the wrong shape are absent (and logged once). Nothing
        here waits, so ``deadline`` changes nothing."""
        self.round_trips += 1
        lists = self.recommendations.get_many(list_keys, version) if version else {}
        shoppers = {}
        for key in dict.fromkeys(shopper_keys):
            stored = self.realtime.shoppers.get(key)
            if stored is None:
                continue
            if valid_realtime(stored.recent, stored.shown):
                shoppers[key] = RealtimeState(list(stored.recent), list(stored.shown))
            else:
                skip_unreadable(key, "realtime")
        if history and version:
            wanted = [key for key in dict.fromkeys(shopper_keys) if key in list_keys]
            for key, items in self.recommendations.get_history(wanted, version).items():
                shoppers.setdefault(key, RealtimeState()).history = items
        state = None
        if catalog:
            arrivals = self.realtime.catalog.new_arrivals
            if not valid_arrivals(arrivals):
                skip_unreadable(NEW_ARRIVALS_KEY, "new arrivals")
                arrivals = []
            state = CatalogState(set(self.realtime.catalog.unavailable),
                                 [list(a) for a in arrivals])
        return lists, shoppers, state


class MemoryExperimentStore:
    def __init__(self) -> None:
        self.experiments: dict[str, Experiment] = {}
        self.unit_rows: dict[tuple[str, int, str], tuple[Outcome, int, list[str]]] = {}
        self.counts: dict[str, dict[int, VariantCounts]] = {}
        self.recounts: dict[str, ExactCounts] = {}
        self._lock = threading.Lock()

    def create(self, experiment: Experiment) -> None:
        with self._lock:
            if experiment["id"] in self.experiments:
                raise Conflict(f"experiment {experiment['id']} exists")
            self.experiments[experiment["id"]] = copy.deepcopy(experiment)

    def save(self, experiment: Experiment) -> None:
        self.experiments[experiment["id"]] = copy.deepcopy(experiment)

    def get(self, experiment_id: str) -> Experiment | None:
        found = self.experiments.get(experiment_id)
        return copy.deepcopy(found) if found else None

    def list(self) -> list[Experiment]:
        return [copy.deepcopy(self.experiments[k]) for k in sorted(self.experiments)]

    def record(self, experiment_id: str, variant: int, unit: str, outcome: Outcome,
               now_ms: int, event_id: str | None = None) -> bool:
        with self._lock:
            key = (experiment_id, variant, unit)
            before = self.unit_rows.get(key)
            ids = list(before[2]) if before else []
            if event_id is not None:
                if event_id in ids:
                    return False
                if len(ids) < UNIT_EVENT_IDS:  # full: counted without being remembered
                    ids = [*ids, event_id]
            after = combine(before[0], outcome) if before else outcome
            self.unit_rows[key] = (after, before[1] if before else now_ms, ids)
            variants = self.counts.setdefault(experiment_id, {})
            variants[variant] = add_outcome(variants.get(variant, VariantCounts()),
                                            before[0] if before else None, after)
            return True

    def live_counts(self, experiment_id: str) -> dict[int, VariantCounts]:
        return dict(self.counts.get(experiment_id, {}))

    def units(self, experiment_id: str) -> Iterator[UnitTotals]:
        for (experiment, variant, unit), (outcome, first_ms, _) in sorted(
                self.unit_rows.items()):
            if experiment == experiment_id:
                yield UnitTotals(variant, unit, outcome, first_ms)

    def put_exact(self, experiment_id: str, counts: ExactCounts) -> None:
        self.recounts[experiment_id] = copy.deepcopy(counts)

    def exact(self, experiment_id: str) -> ExactCounts | None:
        found = self.recounts.get(experiment_id)
        return copy.deepcopy(found) if found else None


class MemoryOpsStore:
    def __init__(self) -> None:
        self.health_rows: dict[str, dict[str, int]] = {}
        self.attribution_rows: dict[str, list[TierCounts]] = {}
        self._lock = threading.Lock()

    def add_health(self, day: str, counts: Mapping[str, int]) -> None:
        unknown = set(counts) - set(HEALTH_COUNTS)
        if unknown:
            raise ValueError(f"not health counts: {sorted(unknown)}")
        with self._lock:
            row = self.health_rows.setdefault(day, {})
            for name, count in counts.items():
                row[name] = row.get(name, 0) + count

    def health(self, days: Sequence[str]) -> list[DayHealth]:
        return [DayHealth(day, **self.health_rows.get(day, {})) for day in days]

    def put_attribution(self, days: Mapping[str, Sequence[TierCounts]]) -> None:
        for day, cells in days.items():
            self.attribution_rows[day] = list(cells)

    def attribution(self, days: Sequence[str]) -> dict[str, list[TierCounts]]:
        return {day: list(self.attribution_rows[day]) for day in days
                if day in self.attribution_rows}


class MemoryQueueDepth:
    def __init__(self, messages: int = 0) -> None:
        self.messages = messages

    def depth(self) -> int:
        return self.messages
