"""Serving in an experiment: the arm decides the list, the answer names the arm, its ids carry
it, and each served list counts once as an exposure of the shopper's unit."""

from __future__ import annotations

from datetime import UTC, datetime

from recs.contracts.experiments import Experiment, VariantCounts
from recs.contracts.ids import parse_recommendation_id
from recs.contracts.keys import Entry
from recs.exceptions import StoreError
from recs.experiments.assignment import assign
from recs.experiments.definition import validate_experiment
from recs.serving.service import RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryExperimentStore,
    MemoryModelRegistry,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
from recs.stores.ports import ModelVersion, RecRow

LIVE, CANDIDATE = "20261121-live", "20261122-cand"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _entry(item: str, event: str, category: str | None = None) -> Entry:
    return Entry(item, 1.0, "rice", event, category, None, None)


def _rows(version: str, personal: str) -> list[RecRow]:
    return [RecRow(f"U#{user}", version, [_entry(personal, "purchase")])
            for user in USERS] + [
        RecRow("POP#global", version, [_entry("bread", "trending"), _entry("tea", "trending")]),
        RecRow("I#rice", version, [_entry("milk", "similar")])]


USERS = [f"user-{n}" for n in range(40)]


def _service(experiment: dict[str, object] | None,
             store: MemoryExperimentStore | None = None,
             config: ServingConfig | None = None) -> tuple[RecommendationService,
                                                           MemoryExperimentStore, Experiment]:
    lists = MemoryRecommendationStore()
    lists.write(_rows(LIVE, "lamb") + _rows(CANDIDATE, "saffron"))
    registry = MemoryModelRegistry()
    for version in (LIVE, CANDIDATE):
        registry.put_version(ModelVersion(version, "exported", "2026-11-21T03:00:00"))
    registry.promote(LIVE, None, "2026-11-21T03:05:00")
    store = store or MemoryExperimentStore()
    created = validate_experiment(experiment or {
        "name": "personalised vs trending",
        "variants": [{"name": "A", "weight": 1, "control": True}, {"name": "B", "weight": 1}],
    }, NOW)
    store.create(created)
    service = RecommendationService(
        MemoryServingReader(lists, MemoryRealtimeStore()), registry,
        config or ServingConfig(new_arrival_share=0, long_tail_share=0), experiments=store)
    return service, store, created


def _in(experiment: Experiment, variant: str) -> str:
    return next(u for u in USERS if assign(experiment, u)["name"] == variant)


def test_the_control_arm_answers_trending_and_the_other_its_personalised_list() -> None:
    service, _, experiment = _service(None)
    control = service.for_user(_in(experiment, "A"), None, 3).to_dict()
    treated = service.for_user(_in(experiment, "B"), None, 3).to_dict()
    assert control["tiers"] == ["trending"]
    assert [i["item_id"] for i in control["items"]] == ["bread", "tea"]
    assert treated["tiers"] == ["personalised", "trending"]
    assert treated["items"][0]["item_id"] == "lamb"
    assert control["experiment"] == {"id": experiment["id"], "variant": "A"}
    assert treated["experiment"] == {"id": experiment["id"], "variant": "B"}


def test_every_item_id_carries_the_arm_for_attribution_without_a_lookup() -> None:
    service, _, experiment = _service(None)
    answer = service.for_user(_in(experiment, "B"), None, 3)
    for item in answer.items:
        ref = parse_recommendation_id(item.recommendation_id)
        assert ref.arm is not None
        assert (ref.arm.experiment, ref.arm.variant, ref.arm.unit) == (experiment["id"], 1, "u")
        assert ref.version == LIVE and ref.tier == item.tier


def test_a_shopper_keeps_their_arm_and_counts_as_one_unit_however_often_served() -> None:
    service, store, experiment = _service(None)
    user = _in(experiment, "B")
    variants = {service.for_user(user, None, 3).to_dict()["experiment"]["variant"]
                for _ in range(3)}
    assert variants == {"B"}
    assert store.live_counts(experiment["id"]) == {1: VariantCounts(units=1, exposures=3)}


def test_a_request_without_the_experiments_unit_is_served_outside_it() -> None:
    service, store, experiment = _service(None)
    answer = service.for_user(None, "session-9", 3).to_dict()
    assert "experiment" not in answer
    assert store.live_counts(experiment["id"]) == {}


def test_an_experiment_on_one_surface_leaves_the_others_alone() -> None:
    service, _, experiment = _service({
        "name": "similar items", "surface": "similar",
        "variants": [{"name": "A", "control": True}, {"name": "B"}]})
    assert "experiment" not in service.for_user(USERS[0], None, 3).to_dict()
    control_user = _in(experiment, "A")
    similar = service.similar("rice", 3, control_user).to_dict()
    assert similar["experiment"]["variant"] == "A" and similar["tiers"] == ["trending"]
    treated = service.similar("rice", 3, _in(experiment, "B")).to_dict()
    assert treated["tiers"][0] == "similar"


def test_a_variant_serves_its_own_model_version() -> None:
    service, _, experiment = _service({
        "name": "candidate model",
        "variants": [{"name": "live"}, {"name": "candidate", "model_version": CANDIDATE}]})
    live = service.for_user(_in(experiment, "live"), None, 1)
    candidate = service.for_user(_in(experiment, "candidate"), None, 1)
    assert (live.model_version, live.items[0].item_id) == (LIVE, "lamb")
    assert (candidate.model_version, candidate.items[0].item_id) == (CANDIDATE, "saffron")


def test_a_variant_serves_its_own_settings() -> None:
    lists_config = ServingConfig(new_arrival_share=0, long_tail_share=0, max_per_category=1)
    service, _, experiment = _service({
        "name": "category cap",
        "variants": [{"name": "cap 1"}, {"name": "cap 5", "settings": {"max_per_category": 5}}],
    }, config=lists_config)
    # Both trending items share a category: a cap of one keeps one of them.
    rows = [RecRow("POP#global", LIVE, [_entry("bread", "trending", "bakery"),
                                        _entry("bun", "trending", "bakery")])]
    service.reader.recommendations.write(rows)  # type: ignore[attr-defined]
    loose_user = next(f"nobody-{n}" for n in range(100)
                      if assign(experiment, f"nobody-{n}")["name"] == "cap 5")
    capped_user = next(f"nobody-{n}" for n in range(100)
                       if assign(experiment, f"nobody-{n}")["name"] == "cap 1")
    capped = service.for_user(capped_user, None, 5)
    loose = service.for_user(loose_user, None, 5)
    assert [i.item_id for i in capped.items] == ["bread"]
    assert [i.item_id for i in loose.items] == ["bread", "bun"]


class _FailingStore(MemoryExperimentStore):
    def list(self) -> list[Experiment]:
        raise StoreError("experiments table unavailable")

    def record(self, *args: object, **kwargs: object) -> bool:
        raise StoreError("experiments table unavailable")


def test_an_experiments_table_that_fails_never_fails_an_answer() -> None:
    service, _, _ = _service(None, store=_FailingStore())
    answer = service.for_user(USERS[0], None, 3).to_dict()
    assert answer["items"] and "experiment" not in answer


def test_an_exposure_that_cannot_be_counted_still_answers_in_the_arm() -> None:
    store = MemoryExperimentStore()
    service, _, experiment = _service(None, store=store)
    service.for_user(USERS[0], None, 3)  # reads the running experiments

    def refuse(*args: object, **kwargs: object) -> bool:
        raise StoreError("throttled")

    store.record = refuse  # type: ignore[method-assign]
    answer = service.for_user(USERS[1], None, 3).to_dict()
    assert answer["experiment"]["id"] == experiment["id"]


def test_a_stopped_experiment_places_no_one() -> None:
    service, store, experiment = _service(None)
    stopped = Experiment(**{**experiment, "status": "stopped"})  # type: ignore[typeddict-item]
    store.save(stopped)
    service.arms.ttl_s = 0  # type: ignore[union-attr]  # read the table again at once
    assert "experiment" not in service.for_user(USERS[0], None, 3).to_dict()


def test_variants_are_declared_with_weights() -> None:
    # The weights of the declaration reach assignment: 3:1 puts about three in four in A.
    _, _, experiment = _service({"name": "3:1", "variants": [
        {"name": "A", "weight": 3}, {"name": "B", "weight": 1}]})
    share = sum(assign(experiment, f"u{n}")["name"] == "A" for n in range(4000)) / 4000
    assert 0.72 < share < 0.78
