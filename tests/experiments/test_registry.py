"""Running experiments by hand: one per surface at a time, reports that follow the counters,
stops that happen once and name a real variant, and what rolling a winner out takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recs.contracts.experiments import (
    SERVING_OVERRIDE_ENV,
    SERVING_OVERRIDES,
    Outcome,
    VariantCounts,
)
from recs.exceptions import Conflict, NotFound, ValidationError
from recs.experiments.registry import (
    create_experiment,
    experiment_report,
    list_experiments,
    parse_stop,
    roll_out_of,
    stop_experiment,
)
from recs.serving.settings import ServingConfig
from recs.stores.memory import MemoryExperimentStore
from recs.stores.ports import ExactCounts

NOW = datetime(2026, 11, 30, 16, 41, tzinfo=UTC)


def _raw(surface: str = "recommendations", **more: Any) -> dict[str, Any]:
    return {"name": f"blend on {surface}", "surface": surface,
            "variants": [{"name": "trending", "control": True},
                         {"name": "blend", "model_version": "v2",
                          "settings": {"new_arrival_share": 0.3, "max_per_category": 2}}],
            **more}


@pytest.fixture
def store() -> MemoryExperimentStore:
    return MemoryExperimentStore()


def test_a_created_experiment_is_stored_running(store: MemoryExperimentStore) -> None:
    created = create_experiment(_raw(), store, NOW)
    assert created["status"] == "running" and created["created_at"] == "2026-11-30T16:41:00+00:00"
    assert created["id"].startswith("20261130T164100-")
    assert store.get(created["id"]) == created


@pytest.mark.parametrize(("running", "new"), [("recommendations", "recommendations"),
                                              ("recommendations", "all"),
                                              ("all", "similar"), ("all", "all")])
def test_a_second_experiment_on_an_overlapping_surface_is_refused_naming_the_first(
        store: MemoryExperimentStore, running: str, new: str) -> None:
    first = create_experiment(_raw(running), store, NOW)
    with pytest.raises(Conflict, match=f"experiment {first['id']} .* is running on "
                                       f"surface {running}"):
        create_experiment(_raw(new), store, NOW)
    assert [e["id"] for e in store.list()] == [first["id"]]


def test_other_surfaces_and_stopped_experiments_leave_room(
        store: MemoryExperimentStore) -> None:
    first = create_experiment(_raw("recommendations"), store, NOW)
    create_experiment(_raw("similar"), store, NOW)
    stop_experiment(first["id"], store, now=NOW)
    again = create_experiment(_raw("recommendations"), store, NOW + timedelta(seconds=1))
    assert again["status"] == "running"


def test_an_invalid_definition_names_its_field_and_stores_nothing(
        store: MemoryExperimentStore) -> None:
    with pytest.raises(ValidationError) as refused:
        create_experiment({**_raw(), "surface": "checkout"}, store, NOW)
    assert refused.value.field == "surface"
    assert store.list() == []


def test_the_list_is_newest_first(store: MemoryExperimentStore) -> None:
    ids = [create_experiment(_raw(surface), store, NOW + timedelta(days=day))["id"]
           for day, surface in enumerate(("similar", "recommendations", "trending"))]
    assert [e["id"] for e in list_experiments(store)] == ids[::-1]


def test_unknown_ids_are_not_found(store: MemoryExperimentStore) -> None:
    with pytest.raises(NotFound, match="experiment nope does not exist"):
        experiment_report("nope", store)
    with pytest.raises(NotFound):
        stop_experiment("nope", store)


def test_the_report_reflects_the_counts_recorded_by_variant_name(
        store: MemoryExperimentStore) -> None:
    experiment = create_experiment(_raw(), store, NOW)
    exp_id = experiment["id"]
    # trending (position 0): 4 users served, 1 clicks; blend (1): 4 users, 3 click, 1 buys.
    for variant, clickers in ((0, 1), (1, 3)):
        for user in range(4):
            store.record(exp_id, variant, f"u{variant}{user}", Outcome(served=1), 1)
            if user < clickers:
                store.record(exp_id, variant, f"u{variant}{user}", Outcome(clicks=1), 2)
    store.record(exp_id, 1, "u10", Outcome(purchases=1, revenue=12.5), 3)

    report = experiment_report(exp_id, store)
    assert {k: report[k] for k in experiment} == experiment
    results = report["results"]
    assert results["control"] == "trending"
    assert results["variants"]["trending"] == {
        "units": 4, "exposures": 4, "clicks": 1, "ctr": 0.25, "add_to_cart_rate": 0.0,
        "conversion_rate": 0.0, "revenue_per_unit": 0.0}
    assert results["variants"]["blend"] == {
        "units": 4, "exposures": 4, "clicks": 3, "ctr": 0.75, "add_to_cart_rate": 0.0,
        "conversion_rate": 0.25, "revenue_per_unit": 3.125}
    assert results["comparisons"]["blend"]["ctr"]["difference"] == pytest.approx(0.5)
    assert report["exact"] is None


def test_the_report_carries_the_nightly_recount_by_name_and_day(
        store: MemoryExperimentStore) -> None:
    exp_id = create_experiment(_raw(), store, NOW)["id"]
    day1 = {0: VariantCounts(units=10, exposures=12, clicks=2, clicking_units=2),
            1: VariantCounts(units=10, exposures=11, clicks=5, clicking_units=4)}
    day2 = {0: VariantCounts(units=5, exposures=5), 1: VariantCounts(units=6, exposures=6)}
    totals = {v: day1[v] + day2[v] for v in (0, 1)}
    store.put_exact(exp_id, ExactCounts("2026-12-02T03:10:00+00:00", totals,
                                        {"2026-12-01": day1, "2026-12-02": day2}))
    exact = experiment_report(exp_id, store)["exact"]
    assert exact["as_of"] == "2026-12-02T03:10:00+00:00"
    assert exact["results"]["variants"]["trending"]["units"] == 15
    assert exact["results"]["variants"]["blend"]["ctr"] == round(4 / 16, 6)
    assert list(exact["days"]) == ["2026-12-01", "2026-12-02"]
    assert exact["days"]["2026-12-01"]["blend"] == day1[1].to_dict()
    assert exact["days"]["2026-12-02"]["trending"] == day2[0].to_dict()


def test_a_stop_names_its_time_and_winner_and_happens_once(
        store: MemoryExperimentStore) -> None:
    exp_id = create_experiment(_raw(), store, NOW)["id"]
    later = NOW + timedelta(days=14)
    stopped = stop_experiment(exp_id, store, winner="blend", now=later)
    assert (stopped["status"], stopped["stopped_at"], stopped["winner"]) == (
        "stopped", "2026-12-14T16:41:00+00:00", "blend")
    assert store.get(exp_id) == stopped
    with pytest.raises(Conflict, match="was stopped at 2026-12-14T16:41:00"):
        stop_experiment(exp_id, store, now=later)


def test_a_winner_must_be_one_of_the_variants(store: MemoryExperimentStore) -> None:
    exp_id = create_experiment(_raw(), store, NOW)["id"]
    with pytest.raises(ValidationError, match=r"must be a variant of .*: trending, blend") as bad:
        stop_experiment(exp_id, store, winner="als")
    assert bad.value.field == "winner"
    assert store.get(exp_id)["status"] == "running"  # type: ignore[index]


@pytest.mark.parametrize(("body", "parsed"), [
    (None, (None, False)), ("", (None, False)), ("{}", (None, False)),
    ('{"winner": "blend"}', ("blend", False)),
    ('{"winner": "blend", "roll_out": true}', ("blend", True)),
])
def test_a_stop_body_is_optional(body: str | None, parsed: tuple[str | None, bool]) -> None:
    assert parse_stop(body) == parsed


@pytest.mark.parametrize(("body", "field"), [
    ("not json", "body"), ("[1]", "body"), ('{"winner": NaN}', "body"),
    ('{"winner": 3}', "winner"), ('{"roll_out": "yes", "winner": "b"}', "roll_out"),
    ('{"roll_out": true}', "roll_out"), ('{"winer": "b"}', "winer"),
])
def test_a_bad_stop_body_names_its_field(body: str, field: str) -> None:
    with pytest.raises(ValidationError) as bad:
        parse_stop(body)
    assert bad.value.field == field


def test_rolling_out_a_winner_is_its_model_and_its_settings_by_environment_variable(
        store: MemoryExperimentStore) -> None:
    experiment = create_experiment(_raw(), store, NOW)
    blend = roll_out_of(experiment, "blend")
    assert blend.model_version == "v2"
    assert blend.settings == {"RECS_MAX_PER_CATEGORY": 2, "RECS_NEW_ARRIVAL_SHARE": 0.3}
    control = roll_out_of(experiment, "trending")
    assert (control.model_version, control.settings) == (None, {})


def test_each_setting_a_winner_rolls_out_is_the_variable_serving_reads() -> None:
    """``SERVING_OVERRIDE_ENV`` against ``ServingConfig.from_env`` itself: a renamed
    variable would roll out a setting nothing reads."""
    for name, variable in SERVING_OVERRIDE_ENV.items():
        whole, low, high = SERVING_OVERRIDES[name]
        value = int(high) if whole else (low + high) / 4
        config = ServingConfig.from_env({variable: str(value)})
        assert getattr(config, name) == value != getattr(ServingConfig(), name)
