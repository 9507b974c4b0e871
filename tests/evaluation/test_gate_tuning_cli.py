"""The promotion gate, tuning, the evaluation runner and the CLI, on small data."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from recs.algorithms import catalog
from recs.batch.config import BatchConfig
from recs.batch.evaluation import core, gate, split, tuning
from recs.batch.training import train
from recs.batch.weighting import weight_events
from recs.exceptions import ConfigError
from recs_local import sample_data
from recs_local.evaluation import commands, loaders, report, run

END = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "events.csv"
    sample_data.write_csv(sample_data.generate(users=150, days=28, end=END), path)
    return path


@pytest.fixture(scope="module")
def sample_table(sample_csv: Path):
    return loaders.load(sample_csv, "events")


def test_compare_accepts_and_refuses() -> None:
    ok, reason = gate.compare({"ndcg": 0.20}, {"ndcg": 0.21}, margin=0.1)
    assert ok and "vs live" in reason
    ok, reason = gate.compare({"ndcg": 0.10}, {"ndcg": 0.21}, margin=0.1)
    assert not ok and "worse than live" in reason
    assert gate.compare({"ndcg": 0.1}, None, 0.05)[0]
    assert not gate.compare({"ndcg": float("nan")}, {"ndcg": 0.1}, 0.05)[0]
    assert not gate.compare({}, {"ndcg": 0.1}, 0.05)[0]
    with pytest.raises(ValueError):
        gate.compare({"ndcg": 0.1}, {"ndcg": 0.1}, -1)


def test_gate_refuses_a_deliberately_worse_candidate(sample_table) -> None:
    config = BatchConfig()
    as_of = int(END.timestamp() * 1000)
    held = gate.holdout_split(sample_table, as_of, days=5)
    interactions = weight_events(held.train, config, held.as_of_ms)
    live = train(interactions, config)
    worse = train(interactions, dataclasses.replace(config, algorithm="popularity"))
    rng = np.random.default_rng(0)  # every list: arbitrary items
    worse.rec_items = rng.integers(0, worse.item_ids.size, worse.rec_items.size).astype(np.int32)
    live_metrics = gate.score_model(live, held.test, config)
    worse_metrics = gate.score_model(worse, held.test, config)
    assert live_metrics["users"] == worse_metrics["users"] > 0
    ok, reason = gate.compare(worse_metrics, live_metrics, margin=0.05)
    assert not ok, reason
    assert gate.compare(live_metrics, live_metrics, margin=0.05)[0]


def test_repeat_shares_known_answer(sample_table) -> None:
    s = split.global_time(sample_table, test_fraction=0.2)
    share, per = tuning.repeat_shares(s, BatchConfig())
    assert 0 < share < 1
    assert per and all(0 <= r <= n for r, n in per.values())
    weights = tuning.category_weights_for(0.5, share, per)
    assert weights["*"] == 0.5 and all(0 < w < 1 for w in weights.values())
    assert tuning.category_weights_for(0.0, share, per) == {"*": 0.0}


def test_tune_is_time_boxed_and_returns_params(sample_table) -> None:
    config = BatchConfig(tuning_seconds=30)
    as_of = int(END.timestamp() * 1000)
    result = tuning.tune(sample_table, config, as_of_ms=as_of, budget_seconds=30)
    assert result.trials and result.metrics["ndcg"] >= 0
    assert set(result.params) >= {"half_life_days", "neighbours", "blend_weight"}
    assert result.config.half_life_days == result.params["half_life_days"]
    record = result.record()
    assert record["validation"]["users"] > 0
    quick = tuning.tune(sample_table, config, as_of_ms=as_of, budget_seconds=0.0)
    assert not quick.complete and len(quick.trials) == 1  # only the starting point


def test_tune_pools_the_users_of_both_validation_folds(sample_table) -> None:
    config = BatchConfig()
    as_of = int(END.timestamp() * 1000)
    grid = {k: (v[0],) for k, v in tuning.GRID.items()}  # a tiny grid: this is about folds
    one = tuning.tune(sample_table, config, as_of_ms=as_of, budget_seconds=30, grid=grid,
                      extra_folds=())
    both = tuning.tune(sample_table, config, as_of_ms=as_of, budget_seconds=30, grid=grid)
    assert both.metrics["users"] > one.metrics["users"] > 0


def test_evaluate_and_report(sample_table, tmp_path: Path) -> None:
    ev = run.evaluate(sample_table, BatchConfig(), k=10, tune_seconds=5)
    names = [r.name for r in ev.results]
    assert names[0] == run.DEFAULT_NAME
    assert run.HISTORY_NAME in names and run.POPULARITY_NAME in names
    text = report.markdown(ev)
    assert "NDCG@10" in text and "Paired comparisons" in text
    default = ev.result(run.DEFAULT_NAME)
    assert default.mean("ndcg") > ev.result(run.POPULARITY_NAME).mean("ndcg") * 0.5
    history = ev.result(run.HISTORY_NAME)
    assert np.nansum(history.per_user_new["ndcg"]) == 0  # history has nothing new
    # the breakdown covers every test user once
    assert sum(e.n for _, e in core.breakdown(default, ev.data.holdout)) == np.count_nonzero(
        ~np.isnan(default.per_user["ndcg"]))


def test_plots_write_pngs(sample_table, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from recs_local.evaluation import plots

    ev = run.evaluate(sample_table, BatchConfig(), k=5, tune_seconds=1,
                      include_algorithms=False)
    paths = plots.write_all(ev, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_cli_recommend_batch(sample_csv: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("user-0001\nuser-0002\nstranger\n")
    out = tmp_path / "recs.csv"
    code = commands.main(["recommend-batch", "--events", str(sample_csv), "--users", str(users),
                     "--num-items", "4", "--out", str(out), "--no-tune"])
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["user_id", "item_id", "rank", "score", "reason"]
    by_user: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    assert set(by_user) == {"user-0001", "user-0002", "stranger"}
    assert all(len(v) == 4 for v in by_user.values())
    assert [r["rank"] for r in by_user["user-0001"]] == ["1", "2", "3", "4"]
    assert by_user["stranger"][0]["reason"] == "Trending now"
    assert by_user["user-0001"][0]["reason"].startswith("Because you")


def test_cli_recommend_batch_ignores_the_wall_clock(tmp_path: Path) -> None:
    """Old data: decay is measured from its end, so old events still count."""
    old = sample_data.generate(users=40, days=10, end=END - timedelta(days=3000))
    path = tmp_path / "old.csv"
    sample_data.write_csv(old, path)
    users = tmp_path / "u.txt"
    users.write_text("user-0001\n")
    out = tmp_path / "r.csv"
    assert commands.main(["recommend-batch", "--events", str(path), "--users", str(users),
                     "--num-items", "3", "--out", str(out), "--no-tune"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and rows[0]["reason"].startswith("Because you")


def test_cli_evaluate_writes_report(sample_csv: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "eval"
    assert commands.main(["evaluate", "--events", str(sample_csv), "--format", "events",
                     "--k", "5", "--split", "last-basket", "--out", str(out),
                     "--tune-seconds", "2"]) == 0
    assert "| model |" in capsys.readouterr().out
    assert (out / "report.md").is_file() and list(out.glob("*.png"))


def test_tune_tries_als_only_on_windows_it_can_fit_in_time(sample_table, monkeypatch) -> None:
    config = BatchConfig()
    as_of = int(END.timestamp() * 1000)
    grid = {k: (v[0],) for k, v in tuning.GRID.items()}
    grid["discovery"] = ("als", "rp3beta+als")

    def tried() -> set[str]:
        result = tuning.tune(sample_table, config, as_of_ms=as_of, budget_seconds=30, grid=grid)
        return {t["params"]["discovery"] for t in result.trials}

    assert {"als", "rp3beta+als"} <= tried()
    # ALS declares the largest window it fits in the time box: make it none.
    als = catalog.SPECS["als"]
    monkeypatch.setitem(catalog.SPECS, "als", dataclasses.replace(als, tuning_max_events=0))
    assert not {"als", "rp3beta+als"} & tried()


def test_sample_users_keeps_whole_histories_and_the_same_users_each_night(sample_table) -> None:
    users = np.asarray(sample_table["user_id"].to_pylist(), dtype=str)
    half = sample_table.num_rows // 2
    sample, share = tuning.sample_users(sample_table, half, min_users=1)
    assert 0 < sample.num_rows <= half and 0 < share < 1
    kept = np.unique(np.asarray(sample["user_id"].to_pylist(), dtype=str))
    # Every kept user brings all of their events: splits and scores see whole histories.
    assert sample.num_rows == int(np.isin(users, kept).sum())
    assert share == pytest.approx(kept.size / np.unique(users).size)
    # A hash, not a draw: the same users again, and a later night's new users do not
    # reshuffle who is in.
    again, _ = tuning.sample_users(sample_table, half, min_users=1)
    assert again.equals(sample)
    later, _ = tuning.sample_users(sample_table.slice(0, sample_table.num_rows - 10), half,
                                   min_users=1)
    later_users = set(np.asarray(later["user_id"].to_pylist(), dtype=str).tolist())
    assert len(later_users & set(kept.tolist())) >= kept.size - 2
    whole, share = tuning.sample_users(sample_table, sample_table.num_rows)
    assert whole is sample_table and share == 1.0
    # Few users with long histories: the user floor wins over the event count.
    floor, _ = tuning.sample_users(sample_table, 1, min_users=100)
    assert np.unique(np.asarray(floor["user_id"].to_pylist())).size == 100


def test_tune_samples_large_windows_and_records_it(sample_table, monkeypatch) -> None:
    monkeypatch.setattr(tuning, "SAMPLE_MIN_USERS", 1)
    as_of = int(END.timestamp() * 1000)
    grid = {k: (v[0],) for k, v in tuning.GRID.items()}
    small = BatchConfig(tuning_max_events=sample_table.num_rows // 3)
    result = tuning.tune(sample_table, small, as_of_ms=as_of, budget_seconds=30, grid=grid)
    sample = result.record()["sample"]
    assert sample["window_events"] == sample_table.num_rows
    assert 0 < sample["events"] <= sample_table.num_rows // 3
    assert 0 < sample["users_share"] < 1
    full = tuning.tune(sample_table, BatchConfig(), as_of_ms=as_of, budget_seconds=30,
                       grid=grid)
    assert full.record()["sample"]["users_share"] == 1.0
    assert full.metrics["users"] > result.metrics["users"] > 0


def test_tune_scores_each_setting_once(sample_table) -> None:
    as_of = int(END.timestamp() * 1000)
    result = tuning.tune(sample_table, BatchConfig(), as_of_ms=as_of, budget_seconds=60)
    settings = [(tuple(sorted(t["params"].items())), t["per_category"]) for t in result.trials]
    assert len(settings) == len(set(settings))


def test_tuning_max_events_is_configurable() -> None:
    assert BatchConfig.from_env({"RECS_TUNING_MAX_EVENTS": "5000"}).tuning_max_events == 5000
    with pytest.raises(ConfigError, match="RECS_TUNING_MAX_EVENTS"):
        BatchConfig(tuning_max_events=0)
