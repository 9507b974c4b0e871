"""The live model's rows never expire while it is live; superseded versions' rows are deleted
``model_ttl_days`` after they stopped being live (``recs.batch.retire``), and not before.

The nightly steps run here in-process on in-memory stores, in the state machine's order, with
the clock injected. The recommendations store honours row TTLs against that clock, as
DynamoDB's TTL eventually does, so a row written with a TTL would vanish here when its time
came.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from recs.batch.config import BatchConfig
from recs.batch.retire import RETIRE_PER_RUN, due, retire_versions
from recs.batch.rollback import rollback
from recs.batch.steps.evaluate import evaluate_step
from recs.batch.steps.export import export_step
from recs.batch.steps.promote import promote_step
from recs.batch.steps.train import train_step
from recs.batch.steps.weight import weight_step
from recs.contracts import layout
from recs.contracts.keys import GLOBAL_TRENDING, Entry, row_keys_key
from recs.contracts.state import BatchState
from recs.exceptions import PromotionRefused, RecsError
from recs.formats import event_files
from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryModelRegistry,
    MemoryObjectStore,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
from recs.stores.ports import ModelVersion, RecRow

DAY0 = date(2026, 11, 20)
CONFIG = BatchConfig(tuning_seconds=0, max_unreadable_share=0.0)
# Nights that must export whatever the hold-out says: the gate lets every candidate through.
EXPORTING = BatchConfig(tuning_seconds=0, gate_margin=1.0)


class Clock:
    """The wall clock the steps and the store see; tests move it forward by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def seconds(self) -> float:
        return self.at.timestamp()


class Shop:
    """The bucket, tables and nightly batch of one shop, in memory."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.objects = MemoryObjectStore()
        self.recommendations = MemoryRecommendationStore(clock=clock.seconds)
        self.registry = MemoryModelRegistry()
        self.realtime = MemoryRealtimeStore()

    def land(self, day: date, rows: list[tuple[str, str, str]], tag: str = "") -> None:
        """One lander file of ``(user, item, event type)`` events at noon of ``day``."""
        noon = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() * 1000)
        events: list[Any] = [
            {"event_id": f"{day}-{tag}-{n}", "user_id": user, "item_id": item,
             "event_type": kind, "ts": noon + n * 60_000}
            for n, (user, item, kind) in enumerate(rows)]
        self.objects.put(layout.event_file(day.isoformat(), f"{tag}{day:%Y%m%d}"),
                         event_files.encode(events))

    def night(self, day: date, config: BatchConfig = CONFIG) -> BatchState:
        """The state machine's run for ``as_of`` = ``day``: any step's error fails the run
        (raised here), a refused candidate goes straight to promote."""
        now = self.clock.now()
        state: BatchState = {"as_of": day.isoformat()}
        state = weight_step(state, self.objects, config)
        state = train_step(state, self.objects, config)
        state = evaluate_step(state, self.objects, self.registry, config)
        if state["gate"]["ok"]:
            state = export_step(state, self.objects, self.recommendations, self.registry,
                                config, now=now)
        return promote_step(state, self.registry, now=now)

    def service(self) -> RecommendationService:
        return RecommendationService(
            MemoryServingReader(self.recommendations, self.realtime), self.registry,
            ServingConfig(new_arrival_share=0, long_tail_share=0))


RICE_MILK_LAMB = [("A", "rice", "purchase"), ("A", "milk", "purchase"),
                  ("A", "lamb", "purchase"), ("C", "rice", "purchase"),
                  ("C", "milk", "purchase"), ("B", "tea", "view"), ("B", "coffee", "view")]


def at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_35_days_of_failed_batches_and_the_live_model_still_answers_personalised() -> None:
    clock = Clock(at(DAY0 + timedelta(days=1)))
    shop = Shop(clock)
    shop.land(DAY0, RICE_MILK_LAMB)
    first = shop.night(DAY0 + timedelta(days=1))
    assert first["promoted"] is True and first["changed"] is True
    live = first["version"]
    assert shop.service().for_user("C", None, 3).items[0].item_id == "lamb"

    # From the next day on, every run fails: a file nobody can read, and no tolerance.
    shop.objects.put(layout.event_file((DAY0 + timedelta(days=1)).isoformat(), "broken"),
                     b"PAR1 this is not parquet")
    failures = 0
    for offset in range(2, 37):
        clock.at = at(DAY0 + timedelta(days=offset))
        with pytest.raises(RecsError):
            shop.night(DAY0 + timedelta(days=offset))
        failures += 1
    assert failures == 35
    assert clock.at - at(DAY0 + timedelta(days=1)) == timedelta(days=35)

    answer = shop.service().for_user("C", None, 3)
    assert answer.model_version == live
    assert answer.tiers[0] == "personalised"
    assert answer.items[0].item_id == "lamb"
    assert answer.items[0].reason in ("Because you bought rice", "Because you bought milk")
    # No row of the live version carries a TTL: nothing could expire them.
    live_rows = {key: ttl for (key, version), ttl in shop.recommendations.expires_at.items()
                 if version == live}
    assert live_rows and set(live_rows.values()) == {0}
    assert shop.registry.get_version(live).status == "live"  # type: ignore[union-attr]


def test_a_superseded_version_is_deleted_model_ttl_days_after_it_stopped_being_live() -> None:
    clock = Clock(at(DAY0 + timedelta(days=1)))
    shop = Shop(clock)
    shop.land(DAY0, RICE_MILK_LAMB)
    old = shop.night(DAY0 + timedelta(days=1), EXPORTING)["version"]
    # Live for ten days, then replaced on day 11.
    clock.at = at(DAY0 + timedelta(days=11))
    shop.land(DAY0 + timedelta(days=10), RICE_MILK_LAMB, tag="b")
    new = shop.night(DAY0 + timedelta(days=11), EXPORTING)
    assert new["changed"] is True and new["previous_version"] == old
    superseded = shop.registry.get_version(old)
    assert superseded is not None and superseded.status == "archived"
    assert superseded.superseded_at == at(DAY0 + timedelta(days=11)).isoformat()
    old_keys = {key for key, version in shop.recommendations.rows if version == old}
    assert GLOBAL_TRENDING in old_keys and "U#C" in old_keys

    # A day before its retention ends it is kept, and a rollback could reach it.
    day = DAY0 + timedelta(days=11 + EXPORTING.model_ttl_days - 1)
    clock.at = at(day)
    shop.land(day - timedelta(days=1), RICE_MILK_LAMB, tag="c")
    assert shop.night(day, EXPORTING)["retired"] == []
    assert {key for key, version in shop.recommendations.rows if version == old} == old_keys

    # model_ttl_days after it was superseded, the next export deletes every row it had,
    # and the list of their keys with them.
    day += timedelta(days=1)
    clock.at = at(day)
    shop.land(day - timedelta(days=1), RICE_MILK_LAMB, tag="d")
    assert shop.night(day, EXPORTING)["retired"] == [old]
    assert not [key for key, version in shop.recommendations.rows if version == old]
    assert not [key for key, version in shop.recommendations.row_keys if version == old]
    record = shop.registry.get_version(old)
    assert record is not None and record.status == "expired"
    with pytest.raises(PromotionRefused, match="expired"):
        rollback(old, shop.registry, shop.recommendations)
    # The version it was replaced by, superseded since only a day, is still whole.
    assert shop.registry.get_version(new["version"]).status == "archived"  # type: ignore[union-attr]
    assert rollback(new["version"], shop.registry, shop.recommendations)["changed"] is True


def test_rerunning_the_live_day_keeps_it_live_and_moves_nothing() -> None:
    clock = Clock(at(DAY0 + timedelta(days=1)))
    shop = Shop(clock)
    shop.land(DAY0, RICE_MILK_LAMB)
    first = shop.night(DAY0 + timedelta(days=1))
    record = shop.registry.get_version(first["version"])
    assert record is not None and record.status == "live"
    clock.at += timedelta(hours=5)
    again = shop.night(DAY0 + timedelta(days=1))
    assert again["version"] == first["version"]
    assert again["promoted"] is True and again["changed"] is False
    rerun = shop.registry.get_version(first["version"])
    assert rerun is not None
    assert (rerun.status, rerun.promoted_at, rerun.created_at) == (
        "live", record.promoted_at, record.created_at)
    assert rerun.counts == record.counts


# -- retire on its own: registry records and rows written by hand -----------------------------

NOW = datetime(2026, 12, 31, 3, tzinfo=UTC)


def stored(versions: dict[str, tuple[str, str, str]], live: str | None = None,
           ) -> tuple[MemoryModelRegistry, MemoryRecommendationStore]:
    """Versions as ``{version: (status, created_at, superseded_at)}`` (days before NOW), each
    with two rows and their keys; ``live`` is made live."""
    registry, store = MemoryModelRegistry(), MemoryRecommendationStore()
    for version, (status, created, superseded) in versions.items():
        def ago(days: str) -> str:
            return (NOW - timedelta(days=float(days))).isoformat() if days else ""
        registry.put_version(ModelVersion(
            version, status, ago(created), superseded_at=ago(superseded),
            counts={"rows_written": 2, "rows_expected": 2}))
        store.write([RecRow(GLOBAL_TRENDING, version, [Entry("a", 1.0, None, "trending",
                                                             None, None, None)]),
                     RecRow("U#u", version, [Entry("b", 1.0, "a", "view", None, None, None)])])
        store.write_row_keys(version, [GLOBAL_TRENDING, "U#u"])
    if live:
        registry.live = live
        registry.versions[live].status = "live"
    return registry, store


def versions_with_rows(store: MemoryRecommendationStore) -> set[str]:
    return {version for _, version in store.rows}


def test_only_versions_out_of_service_for_the_retention_are_due_oldest_first() -> None:
    registry, _rows = stored({
        "v-live": ("exported", "90", ""),        # live: never, however old
        "v-old": ("archived", "90", "40"),       # superseded 40 days ago
        "v-older": ("archived", "95", "50"),     # superseded 50 days ago
        "v-recent": ("archived", "60", "10"),    # superseded 10 days ago: kept
        "v-orphan": ("exporting", "31", ""),     # an export that died 31 days ago
        "v-refused": ("rejected", "45", ""),     # gate refusal: see below
    }, live="v-live")
    refused = registry.versions["v-refused"]
    refused.counts = {}  # refused by the gate: never exported, no rows_written
    due_now = [r.version for r in due(registry.list_versions(), "v-live", None, NOW, 30)]
    assert due_now == ["v-older", "v-old", "v-orphan"]


def test_a_run_retires_at_most_its_share_and_the_next_run_the_rest() -> None:
    registry, store = stored({f"v{n}": ("archived", "90", str(40 + n)) for n in range(3)} |
                             {"live": ("exported", "1", "")}, live="live")
    first = retire_versions(store, registry, 30, NOW)
    assert len(first) == RETIRE_PER_RUN and first == ["v2", "v1"]
    assert retire_versions(store, registry, 30, NOW) == ["v0"]
    assert versions_with_rows(store) == {"live"}
    assert retire_versions(store, registry, 30, NOW) == []


def test_a_version_left_expiring_is_finished_first_and_can_never_go_live() -> None:
    registry, store = stored({"v1": ("archived", "90", "5"), "v2": ("exported", "1", "")},
                             live="v2")
    assert registry.retire("v1") is True  # a run died after marking it
    with pytest.raises(PromotionRefused):
        registry.promote("v1", "v2", NOW.isoformat())
    with pytest.raises(PromotionRefused, match="expired"):
        rollback("v1", registry, store)
    assert retire_versions(store, registry, 30, NOW) == ["v1"]
    assert versions_with_rows(store) == {"v2"}
    assert registry.get_version("v1").status == "expired"  # type: ignore[union-attr]


def test_the_live_version_is_never_retired() -> None:
    registry, store = stored({"v1": ("archived", "400", "399")}, live="v1")
    assert registry.retire("v1") is False
    assert retire_versions(store, registry, 30, NOW) == []
    assert versions_with_rows(store) == {"v1"}


def test_row_keys_round_trip_in_chunks_with_any_character() -> None:
    store = MemoryRecommendationStore()
    keys = [f"U#user-{n}-{'ü' * (n % 7)}\n\"#" for n in range(30_000)]
    chunks = store.write_row_keys("v1", keys)
    assert chunks > 1
    assert [key for chunk in store.read_row_keys("v1") for key in chunk] == keys
    assert (row_keys_key(chunks), "v1") not in store.row_keys
    assert list(store.read_row_keys("v2")) == []
