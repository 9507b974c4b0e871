"""The Spark job end to end on a directory store, and ``recs recommend-batch`` on both engines
on a dataset the project did not make."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.steps.export import export_rows
from recs.batch.steps.train import config_from_params, recorded_choice
from recs.batch.steps.weight import apply_catalog_categories
from recs.batch.training import train
from recs.batch.weighting import weight_events
from recs.batch.window import read_window, window_keys
from recs.contracts import layout
from recs.contracts.state import BatchState
from recs.formats import row_files
from recs.stores.directory import DirectoryObjectStore
from recs_local.evaluation import commands
from recs_spark import job
from tests.spark.conftest import AS_OF, AS_OF_MS, compare, event_file, shop

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
MOVIELENS = DATASETS / "movielens_ml_latest_small"


def test_the_job_writes_the_versions_rows_and_manifest(spark: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = DirectoryObjectStore(tmp_path)
    table = shop(seed=11, users=150, events=5000)
    for n, start in enumerate(range(0, table.num_rows, 1500)):
        store.put(layout.event_file("2026-11-1" + str(n % 3), f"f{n}"),
                  event_file(table.slice(start, 1500)))
    store.put(layout.event_file("2026-11-20", "later"), event_file(table.slice(0, 10)))
    store.put(layout.event_file("2026-11-12", "torn"), b"PAR1 cut short")
    catalog: dict[str, list[Any]] = {"i3": ["shoes/boots", "Boot", True],
                                      "i5": [None, "Gone", False]}
    store.put("interactions/v7/catalog.json", json.dumps(catalog).encode())
    for name, value in {"RECS_TUNING_SECONDS": "3", "RECS_TUNING_MAX_EVENTS": "1500",
                        "RECS_MAX_ITEMS_PER_USER": "15"}.items():
        monkeypatch.setenv(name, value)
    config = BatchConfig.from_env()
    state: BatchState = {"version": "v7", "as_of": AS_OF.date().isoformat(),
                         "catalog_key": "interactions/v7/catalog.json",
                         "counts": {"events": 1}}

    assert job.main(["--store", tmp_path.as_uri(), "--state", json.dumps(state)]) == 0

    manifest = json.loads(store.get(layout.spark_manifest("v7")))
    assert manifest["rows_prefix"] == layout.rows_prefix("v7")
    for name in ("events_key", "model_key", "params_key", "shadow_key"):
        store.get(manifest[name])  # each was written
    files = store.list(manifest["rows_prefix"])
    assert manifest["counts"]["row_files"] == len(files) >= 2
    got = [row for key in files for row in row_files.read(store.get(key))]
    assert manifest["counts"]["rows_expected"] == len(got)
    # The unreadable file is skipped and counted, as the weight step does.
    assert manifest["counts"]["skipped_event_files"] == 1
    assert manifest["counts"]["skipped_event_bytes"] == len(b"PAR1 cut short")
    assert manifest["counts"]["partitions"] == 5
    assert manifest["tuning"]["discoveries"] == ["rp3beta", "cosine"]
    assert manifest["tuning"]["params"]["discovery"] in ("rp3beta", "cosine")

    # The rows are export_rows' of the single-node model trained with the job's parameters.
    chosen = config_from_params(json.loads(store.get(manifest["params_key"])))
    start = (AS_OF - timedelta(days=config.training_window_days)).date()
    window = read_window(store, window_keys(store.list(layout.EVENTS), start, AS_OF.date()))
    interactions = weight_events(window, chosen, AS_OF_MS)
    apply_catalog_categories(interactions, catalog)
    single = train(interactions, chosen)
    result = compare(export_rows(single, "v7", 0, catalog), got)
    assert result.different == []
    assert result.exact >= 0.9 * result.rows
    print(f"job: {result.rows} rows, {result.exact} exact, {result.tied_rows} with "
          f"{result.tied_entries} entries moved within ties, {result.reasons} tied reasons")
    assert not any(entry[0] == "i5" for row in got for entry in row.items)  # unavailable

    # The sample: its events, and its users' lists in the model and the shadow.
    sample = pq.read_table(io.BytesIO(store.get(manifest["events_key"])))
    users = set(pa.compute.coalesce(sample["user_id"], pa.compute.binary_join_element_wise(
        "~s~", sample["session_id"], "")).to_pylist())
    model = Model.from_bytes(store.get(manifest["model_key"]))
    assert set(model.user_ids.tolist()) <= users and model.user_ids.size > 0
    assert model.similarity.nnz == single.similarity.nnz
    # Fewer users than the sample's floor (SAMPLE_MIN_USERS): the sample is all of them.
    assert set(single.user_ids.tolist()) <= users
    shadow = Model.from_bytes(store.get(manifest["shadow_key"]))
    assert 0 < shadow.user_ids.size <= len(users)

    # A re-run of the version takes the recorded choice instead of tuning again.
    recorded = recorded_choice(store, "v7", config)
    assert recorded is not None and recorded[0] == chosen
    assert dict(recorded[1])["discoveries"] == ["rp3beta", "cosine"]


@pytest.mark.skipif(not (MOVIELENS / "ratings.csv").is_file(),
                    reason="the shared MovieLens dataset is not on this machine")
def test_recommend_batch_gives_the_same_lists_on_both_engines(
        spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MovieLens' first 20,000 ratings (132 users); ratings span decades, so a long
    half-life keeps them all."""
    lines = (MOVIELENS / "ratings.csv").read_text(encoding="utf-8").splitlines()[:20_001]
    (tmp_path / "ratings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "movies.csv").write_bytes((MOVIELENS / "movies.csv").read_bytes())
    users = sorted({line.split(",")[0] for line in lines[1:]})
    (tmp_path / "users.txt").write_text("\n".join(users), encoding="utf-8")
    monkeypatch.setenv("RECS_HALF_LIFE_DAYS", "100000")
    out = {}
    for engine in ("local", "spark"):
        path = tmp_path / f"{engine}.csv"
        assert commands.main(["recommend-batch", "--engine", engine, "--no-tune",
                              "--events", str(tmp_path / "ratings.csv"), "--format",
                              "movielens", "--users", str(tmp_path / "users.txt"),
                              "--num-items", "20", "--out", str(path)]) == 0
        with path.open(encoding="utf-8") as handle:
            out[engine] = list(csv.DictReader(handle))
    local, spark_rows = out["local"], out["spark"]
    assert len(local) == len(spark_rows) == 20 * len(users)
    same_items = sum(a["item_id"] == b["item_id"] and a["score"] == b["score"]
                     for a, b in zip(local, spark_rows, strict=True))
    same_reasons = sum(a == b for a, b in zip(local, spark_rows, strict=True))
    print(f"MovieLens slice: {len(local)} lines, {same_items} same item and score, "
          f"{same_reasons} same reason too")
    # Items and scores agree line for line but for ties; a reason may name the other of
    # two history items whose terms are tied.
    assert same_items >= 0.99 * len(local)
    assert same_reasons >= 0.98 * len(local)
