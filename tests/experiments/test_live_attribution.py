"""Events that echo an arm's recommendation id count toward it as they arrive: once each,
whatever the retries, and never at the cost of the answer."""

from __future__ import annotations

from datetime import timedelta

from recs.contracts.experiments import VariantCounts
from recs.contracts.ids import Arm, recommendation_id
from recs.exceptions import StoreError
from recs.intake.ingest import ingest
from recs.stores.memory import MemoryEventQueue, MemoryExperimentStore, MemoryRealtimeStore
from tests.conftest import DAY0, event

NOW = int((DAY0 + timedelta(days=1)).timestamp() * 1000)
EXPERIMENT = "20261130T120000-abc123"


def _rid(variant: int, unit: str = "u", tier: str = "personalised") -> str:
    return f"{recommendation_id('20261121-live', Arm(EXPERIMENT, variant, unit))}.{tier}"


def _shopper_events(user: str, variant: int) -> list[dict[str, object]]:
    """One shopper shown two items, clicking one twice, carting and buying it (2 x 4.50)."""
    rid = _rid(variant)
    at = DAY0
    return [
        event(user, "rice", "impression", at, recommendation_id=rid),
        event(user, "milk", "impression", at, recommendation_id=rid),
        event(user, "rice", "click", at + timedelta(seconds=1), recommendation_id=rid),
        event(user, "rice", "click", at + timedelta(seconds=2), recommendation_id=rid),
        event(user, "rice", "cart", at + timedelta(seconds=3), recommendation_id=rid),
        event(user, "rice", "purchase", at + timedelta(seconds=4), recommendation_id=rid,
              price=4.5, quantity=2),
        event(user, "tea", "view", at, recommendation_id=rid),  # a view adds nothing
    ]


def test_each_event_type_adds_what_it_means_per_unit() -> None:
    store = MemoryExperimentStore()
    events = _shopper_events("ann", 1) + _shopper_events("bob", 1) + _shopper_events("cy", 0)
    ingest(events, MemoryEventQueue(), MemoryRealtimeStore(), now=NOW, experiments=store)
    counts = store.live_counts(EXPERIMENT)
    assert counts[1] == VariantCounts(units=2, exposures=4, clicks=4, clicking_units=2,
                                      carting_units=2, purchasing_units=2, revenue=18.0,
                                      revenue_squares=2 * 9.0 ** 2)
    assert counts[0].units == 1 and counts[0].revenue == 9.0


def test_a_duplicate_delivery_counts_once() -> None:
    store = MemoryExperimentStore()
    events = _shopper_events("ann", 1)
    for _ in range(3):  # the client retries the whole request twice
        result = ingest(events, MemoryEventQueue(), None, now=NOW, experiments=store)
        assert result.accepted == len(events)
    counts = store.live_counts(EXPERIMENT)[1]
    assert (counts.clicks, counts.exposures, counts.revenue) == (2, 2, 9.0)


def test_events_that_name_no_arm_or_no_unit_count_nowhere() -> None:
    store = MemoryExperimentStore()
    ingest([
        event("ann", "rice", "click", recommendation_id="r1.20261121-live.personalised"),
        event("ann", "rice", "click", DAY0 + timedelta(seconds=1),
              recommendation_id="r1.v.not~an~arm.trending"),
        # A session-unit arm, and an event with no session id.
        event("ann", "rice", "click", DAY0 + timedelta(seconds=2),
              recommendation_id=_rid(0, unit="s")),
    ], MemoryEventQueue(), None, now=NOW, experiments=store)
    assert store.live_counts(EXPERIMENT) == {}


def test_a_session_unit_arm_counts_by_session() -> None:
    store = MemoryExperimentStore()
    ingest([event("ann", "rice", "click", session_id="s-1", recommendation_id=_rid(0, "s")),
            event("bob", "milk", "click", session_id="s-1", recommendation_id=_rid(0, "s"))],
           MemoryEventQueue(), None, now=NOW, experiments=store)
    assert store.live_counts(EXPERIMENT)[0].units == 1  # two users, one session


class _Unavailable(MemoryExperimentStore):
    def record(self, *args: object, **kwargs: object) -> bool:
        raise StoreError("throttled")


def test_a_failing_experiments_table_never_costs_the_events() -> None:
    queue = MemoryEventQueue()
    events = _shopper_events("ann", 1)
    result = ingest(events, queue, None, now=NOW, experiments=_Unavailable())
    assert (result.accepted, result.rejected) == (len(events), [])
    assert len(queue.messages) == 1  # enqueued: the lake, and the nightly recount, have them
