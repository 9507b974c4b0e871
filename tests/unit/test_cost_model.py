"""benchmarks/cost.py: the cost model's arithmetic on cases worked by hand."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import pytest

from tests.scripts import load_script


def _load() -> ModuleType:
    return load_script("benchmarks/cost.py", "cost_model")


cost = _load()

# Weight -> a Choice on the engine (Spark job or not) -> Train -> Gate -> a Distributed Map
# export whose children run two states each -> Promote.
DEFINITION: dict[str, Any] = {
    "StartAt": "Weight",
    "States": {
        "Weight": {"Type": "Task", "Next": "Engine"},
        "Engine": {"Type": "Choice", "Default": "Train", "Choices": [
            {"Variable": "$.engine", "StringEquals": "spark", "Next": "Spark"}]},
        "Spark": {"Type": "Task", "Next": "Train"},
        "Train": {"Type": "Task", "Next": "Gate"},
        "Gate": {"Type": "Choice", "Default": "Export", "Choices": [
            {"Variable": "$.gate.ok", "BooleanEquals": False, "Next": "Promote"}]},
        "Export": {"Type": "Map", "Next": "Promote", "ItemProcessor": {
            "StartAt": "Part", "States": {"Part": {"Type": "Task", "Next": "Done"},
                                          "Done": {"Type": "Succeed"}}}},
        "Promote": {"Type": "Task", "End": True},
    },
}


def test_growth_is_the_log_log_slope() -> None:
    assert cost.growth(1e6, 10, 1e7, 100) == pytest.approx(1.0)
    assert cost.growth(2e6, 4, 2e7, 4) == pytest.approx(0.0)
    assert cost.growth(1, 1, 4, 2) == pytest.approx(0.5)


def test_a_curve_interpolates_and_extrapolates_on_its_last_exponent() -> None:
    curve = cost.Curve(((1e6, 10.0), (1e7, 100.0), (1e8, 400.0)))
    assert curve.at(1e7) == pytest.approx(100.0)
    assert curve.at(1e6 * 10 ** 0.5) == pytest.approx(10 * 10 ** 0.5)
    assert curve.exponent == pytest.approx(math.log10(4))
    assert curve.at(1e9) == pytest.approx(1600.0)
    assert curve.extrapolated(1e9) and not curve.extrapolated(1e8)


def test_one_measured_size_is_carried_in_proportion() -> None:
    assert cost.Curve(((2e6, 3.0),)).at(2e7) == pytest.approx(30.0)


def test_tiers_are_priced_in_turn() -> None:
    assert cost.tiered(25_000, cost.PERSONALIZE_TPS_TIERS) == pytest.approx(
        20_000 * 0.20 + 5_000 * 0.10)
    assert cost.tiered(300_000, cost.PERSONALIZE_TPS_TIERS) == pytest.approx(
        20_000 * 0.20 + 180_000 * 0.10 + 100_000 * 0.05)


def test_transitions_follow_the_choices_and_count_each_map_child() -> None:
    spark = {"engine": "spark", "gate": {"ok": True}}
    # Weight, Engine, Spark, Train, Gate, Export, Promote, and 10 children of 2 states.
    assert cost.transitions(DEFINITION, spark, 10) == 7 + 20
    assert cost.transitions(DEFINITION, {"engine": "lambda", "gate": {"ok": True}}, 0) == 6
    # A refused candidate goes from the gate straight to promote.
    assert cost.transitions(DEFINITION, {"engine": "lambda", "gate": {"ok": False}}, 0) == 5


def test_batched_map_items_make_fewer_children() -> None:
    batched = {**DEFINITION, "States": {**DEFINITION["States"], "Export": {
        **DEFINITION["States"]["Export"], "ItemBatcher": {"MaxItemsPerBatch": 4}}}}
    assert cost.transitions(batched, {"engine": "spark", "gate": {"ok": True}}, 10) == 7 + 3 * 2


def _inputs() -> Any:
    one = cost.Curve
    return cost.Inputs(
        lambda_steps={"weight": one(((1e6, 10.0),)), "train": one(((1e6, 20.0),)),
                      "export": one(((1e6, 5.0),))},
        lambda_peaks={"weight": one(((1e6, 100.0),))},
        spark_steps={}, spark_cpu_seconds=None, spark_peak_mb=None,
        rows=one(((1e6, 1000.0),)), write_units_per_row=3.0, item_bytes=924.0,
        key_chunks_per_row=0.0, export_rows_per_s=100.0,
        event_bytes=one(((1e6, 3e7),)), event_files=one(((1e6, 20.0),)),
        artefact_bytes=one(((1e6, 1e7),)), row_files=None,
        memory_mb={"weight": 1024, "train": 2048, "export": 1024},
        tuning_seconds=10.0, window_days=90, model_ttl_days=1, artefact_days=2,
        spark_min_events=20_000_000, json_bytes_per_event=100.0, definition=DEFINITION)


UNIT = {name: cost.Price(1.0, "", "", "", True) for name in cost.PRICES}


def test_a_lambda_night_worked_by_hand() -> None:
    lines = {line.what.split(" (")[0]: line for line in
             cost.nightly(_inputs(), cost.Shop("t", 2e6, 2e6 / 90), UNIT)}
    # weight 20 s at 1 GB; train 40 s + the 10 s tuning box at 2 GB; export 10 s plus
    # 2,000 rows at 100 rows/s at 1 GB.
    assert lines["Lambda compute"].quantity == pytest.approx(20 + 50 * 2 + 30)
    assert lines["Lambda requests"].quantity == 3
    # 2,000 rows of 3 units written, and as many deleted.
    assert lines["DynamoDB writes"].quantity == pytest.approx(12_000)
    # Two versions' rows of 924 + 100 bytes.
    assert lines["DynamoDB storage"].quantity == pytest.approx(2 * 2000 * 1024 / 2 ** 30)
    # 40 files read four times (footers, weight, the tuning train step, evaluate) and 10
    # artefacts; 10 artefacts written and one LIST.
    assert lines["S3 requests"].quantity == 4 * 40 + 10 + 10 + 1
    assert lines["S3 storage"].quantity == pytest.approx((6e7 + 2 * 2e7) / 2 ** 30)
    assert lines["Step Functions transitions"].quantity == 6
    assert all(line.usd == pytest.approx(line.quantity) for line in lines.values())
    assert lines["Lambda compute"].extrapolated


def test_night_and_month_totals() -> None:
    lines = [cost.Line("a", 1, "", 2.0), cost.Line("b", 1, "", 3.0, monthly=True)]
    assert cost.night(lines) == 2.0
    assert cost.month(lines) == 2.0 * cost.NIGHTS_A_MONTH + 3.0


def test_personalize_for_the_same_shop_worked_by_hand() -> None:
    shop = cost.Shop("t", 1e8, 5 * 86_400)
    ingest, training, campaign = cost.personalize(_inputs(), shop, our_core_hours=8.0,
                                                  prices=UNIT)
    assert ingest.quantity == pytest.approx(5 * 86_400 * 30 * 100 / 2 ** 30)
    assert training.quantity == pytest.approx(30 * 8.0 / 4)
    assert campaign.quantity == pytest.approx(5 * 24 * 30)
    assert campaign.usd == pytest.approx(3_600 * 0.20)


def test_a_spark_night_worked_by_hand() -> None:
    inputs = _inputs()
    inputs.spark_steps = {"weight": cost.Curve(((1e6, 1.0),)), "train": cost.Curve(((1e6, 2.0),))}
    inputs.spark_cpu_seconds = cost.Curve(((1e6, 270.0),))
    inputs.row_files = cost.Curve(((1e6, 4.0),))
    inputs.spark_min_events = 1_000_000
    lines = {line.what.split(" (")[0]: line for line in
             cost.nightly(inputs, cost.Shop("t", 2e6, 2e6 / 90), UNIT)}
    # 540 CPU seconds busy three quarters of the billed time: 720 vCPU-seconds.
    assert lines["EMR Serverless vCPU"].quantity == pytest.approx(720 / 3600)
    assert lines["EMR Serverless memory"].quantity == pytest.approx(4 * 720 / 3600)
    # weight 2 s and train 4 s at their memory, the children's 20 s of writing at 1 GB.
    assert lines["Lambda compute"].quantity == pytest.approx(2 * 1 + 4 * 2 + 20 * 1)
    assert lines["Lambda requests"].quantity == 3 + 8
    # Weight, Engine, Spark, Train, Gate, Export, Promote and 8 children of 2 states.
    assert lines["Step Functions transitions"].quantity == 7 + 8 * 2
    # 40 event files read twice; 8 row files read three times (the export's start: footer,
    # key column; a child: the file), 10 artefacts; 8 written, 10, one LIST.
    assert lines["S3 requests"].quantity == 2 * 40 + 3 * 8 + 10 + 8 + 10 + 1
