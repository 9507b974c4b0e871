"""The read path: tiers, fallbacks and reasons, on in-memory stores."""

from __future__ import annotations

from recs.contracts.keys import Entry
from recs.exceptions import StoreError
from recs.serving.service import RecommendationService, category_keys
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryModelRegistry,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
from recs.stores.ports import ModelVersion, RecRow
from tests.unit.serving_stack import live_service

V = "20261121-abc"


def entry(item: str, score: float, because: str | None, event: str) -> Entry:
    """An entry whose category and titles are unknown: reasons fall back to the ids."""
    return Entry(item, score, because, event, category=None, title=None, because_title=None)


def service_with(rows: list[RecRow], live: str | None = V,
                 realtime: MemoryRealtimeStore | None = None,
                 config: ServingConfig | None = None) -> RecommendationService:
    return live_service(rows, config, realtime, live)[0]


TRENDING = RecRow("POP#global", V, [entry("bread", 9.0, None, "trending"),
                                    entry("lamb", 8.0, None, "trending"),
                                    entry("tea", 7.0, None, "trending")])


def test_a_known_user_gets_their_list_with_reasons_then_trending_fills_up() -> None:
    service = service_with([
        RecRow("U#C", V, [entry("lamb", 0.9, "rice", "purchase")]), TRENDING])
    result = service.for_user("C", None, 3)
    assert [i.item_id for i in result.items] == ["lamb", "bread", "tea"]
    assert result.items[0].reason == "Because you bought rice"
    assert result.items[1].reason == "Trending now"
    assert result.tiers == ["personalised", "trending"]
    assert result.model_version == V and result.recommendation_id


def test_an_unknown_user_gets_trending() -> None:
    result = service_with([TRENDING]).for_user("nobody", None, 2)
    assert result.tiers == ["trending"]
    assert [i.item_id for i in result.items] == ["bread", "lamb"]


def test_before_any_model_the_answer_is_empty_not_an_error() -> None:
    result = service_with([], live=None).for_user("C", None, 5)
    assert result.items == [] and result.model_version is None


def test_similar_items_never_include_the_item_itself() -> None:
    service = service_with([
        RecRow("I#rice", V, [entry("milk", 0.8, "rice", "similar")]), TRENDING,
        RecRow("POP#global", V, [entry("rice", 9.0, None, "trending"),
                                 entry("tea", 1.0, None, "trending")])])
    result = service.similar("rice", 3)
    assert [i.item_id for i in result.items] == ["milk", "tea"]
    assert result.items[0].reason == "Customers who liked rice also liked this"


def test_trending_in_a_category_falls_back_to_its_parent_then_global() -> None:
    assert category_keys("food/dairy/cheese") == [
        "POP#C#food/dairy/cheese", "POP#C#food/dairy", "POP#C#food"]
    service = service_with([
        RecRow("POP#C#food", V, [entry("rice", 3.0, None, "trending")]), TRENDING])
    result = service.trending("food/dairy", 3)
    assert [i.item_id for i in result.items] == ["rice", "bread", "lamb"]
    assert result.items[0].reason == "Trending in food"
    assert result.tiers == ["category_trending", "trending"]


class FailingReader:
    def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise StoreError("dynamodb timed out")


def test_a_failing_table_gives_an_empty_answer_not_an_error() -> None:
    registry = MemoryModelRegistry()
    registry.put_version(ModelVersion(V, "exported", "now"))
    registry.promote(V, None, "now")
    result = RecommendationService(FailingReader(), registry).for_user("C", None, 5)
    assert result.items == [] and result.model_version == V


def test_the_live_pointer_is_cached_for_its_ttl() -> None:
    clock = [0.0]
    registry = MemoryModelRegistry()
    for version in ("v1", "v2"):
        registry.put_version(ModelVersion(version, "exported", "now"))
    registry.promote("v1", None, "now")
    reader = MemoryServingReader(MemoryRecommendationStore(), MemoryRealtimeStore())
    service = RecommendationService(reader, registry, ServingConfig(pointer_ttl_s=30),
                                    clock=lambda: clock[0])
    assert service.live_version() == "v1"
    registry.promote("v2", "v1", "now")
    clock[0] = 10
    assert service.live_version() == "v1"
    clock[0] = 31
    assert service.live_version() == "v2"
