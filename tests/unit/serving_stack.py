"""The read path on in-memory stores with one live version: what the serving tests build."""

from __future__ import annotations

from collections.abc import Iterable

from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryModelRegistry,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
from recs.stores.ports import ModelVersion, RecRow

V = "20261121-abc"
# New arrivals and the long tail take no slots unless a test gives them some.
PLAIN = ServingConfig(new_arrival_share=0, long_tail_share=0)


def live_service(rows: Iterable[RecRow], config: ServingConfig | None = None,
                 realtime: MemoryRealtimeStore | None = None, live: str | None = V,
                 ) -> tuple[RecommendationService, MemoryRealtimeStore, MemoryServingReader]:
    """The service over ``rows`` with ``live`` promoted (none: before any model), its
    realtime store and its reader."""
    store = MemoryRecommendationStore()
    store.write(rows)
    registry = MemoryModelRegistry()
    if live:
        registry.put_version(ModelVersion(live, "exported", "2026-11-21T03:00:00"))
        registry.promote(live, None, "2026-11-21T03:05:00")
    realtime = realtime or MemoryRealtimeStore()
    reader = MemoryServingReader(store, realtime)
    return RecommendationService(reader, registry, config or PLAIN), realtime, reader
