"""The Spark engine gives the single-node engine's answer: the same weighted pairs, the same
item neighbours and the same top-N lists with the same reasons, ties aside."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from recs.batch.config import BatchConfig
from recs.batch.evaluation import tuning
from recs.batch.steps.export import export_rows
from recs.batch.training import algorithm_params, train
from recs.batch.weighting import weight_events
from recs.contracts import keys, layout
from recs.formats import row_files
from recs.stores.directory import DirectoryObjectStore
from recs_spark import session as spark_session
from recs_spark import similarity as spark_similarity
from recs_spark import training as spark_training
from recs_spark.sample import sample_users
from recs_spark.similarity import similarity
from recs_spark.weighting import in_window, read_events, read_window, weight
from tests.spark.conftest import AS_OF_MS, compare, event_file, shop

CONFIG = BatchConfig(max_items_per_user=12, num_recommendations=10, neighbours=8,
                     blend_popularity=0.2, blend_category_weights={"c1": 0.9, "*": 0.3},
                     trending_size=10)
KEY = layout.event_file("2026-11-19", "a")


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, str]:
    """The shop's events as two event files, the second repeating part of the first."""
    table = shop()
    root = tmp_path_factory.mktemp("store")
    store = DirectoryObjectStore(root)
    store.put(KEY, event_file(table.slice(0, 3000)))
    store.put(layout.event_file("2026-11-19", "b"), event_file(table.slice(2900)))
    return pa.concat_tables([table.slice(0, 3000), table.slice(2900)]), root.as_uri()


def test_weighted_pairs_are_the_single_node_ones(spark: Any, landed: tuple[pa.Table, str]
                                                 ) -> None:
    table, url = landed
    store = DirectoryObjectStore(Path(url[len("file://"):]))
    events = read_events(spark, url, store.list(layout.EVENTS))
    pairs = weight(in_window(events, CONFIG, AS_OF_MS), CONFIG, AS_OF_MS).pairs.toArrow()
    got = {(u, i): (w, e) for u, i, w, e in zip(
        pairs["user"].to_pylist(), pairs["item"].to_pylist(), pairs["weight"].to_pylist(),
        pairs["top_event"].to_pylist(), strict=True)}

    single = weight_events(table, CONFIG, AS_OF_MS)
    want = {(str(single.user_ids[u]), str(single.item_ids[i])): (float(w), int(e))
            for u, i, w, e in zip(single.user_index, single.item_index, single.weight,
                                  single.top_event, strict=True)}
    assert got.keys() == want.keys()
    for pair, (weight_, event) in want.items():
        assert got[pair][0] == pytest.approx(weight_, rel=1e-6)
        assert got[pair][1] == event
    # What the data was made to exercise is there.
    assert sum(1 for user, _ in got if user == "reseller") == CONFIG.max_items_per_user
    assert any(user.startswith("~s~") for user, _ in got)


@pytest.mark.parametrize("discovery", ["rp3beta", "cosine"])
def test_lists_and_neighbours_are_the_single_node_ones(
        spark: Any, landed: tuple[pa.Table, str], tmp_path: Path, discovery: str) -> None:
    table, url = landed
    config = dataclasses.replace(CONFIG, discovery=discovery)
    store = DirectoryObjectStore(Path(url[len("file://"):]))
    events = read_events(spark, url, store.list(layout.EVENTS))
    out = DirectoryObjectStore(tmp_path)
    trained = spark_training.train(spark, events, config, AS_OF_MS, "v1", tmp_path.as_uri())
    got = [row for key in trained.row_keys for row in row_files.read(out.get(key))]

    model = train(weight_events(table, config, AS_OF_MS), config)
    want = list(export_rows(model, "v1", 0))
    result = compare(want, got)
    assert result.different == []
    users = [row for row in want if row.key.startswith((keys.USER_PREFIX,
                                                        keys.SESSION_PREFIX))]
    neighbours = [row for row in want if row.key.startswith(keys.ITEM_PREFIX)]
    assert len(users) > 80 and len(neighbours) > 40
    # Ties are the exception, not the rule.
    assert result.exact >= 0.9 * result.rows
    print(f"{discovery}: {result.rows} rows, {result.exact} exact, {result.tied_rows} with "
          f"{result.tied_entries} entries moved within ties, {result.reasons} tied reasons")
    assert trained.counts["users"] == model.user_ids.size
    assert trained.counts["items"] == model.item_ids.size


@pytest.mark.parametrize("discovery", ["rp3beta", "cosine"])
@pytest.mark.parametrize("chunk_pairs", [5, 1_000_000])
def test_neighbours_are_the_single_node_ones_in_chunks_of_any_size(
        spark: Any, landed: tuple[pa.Table, str], discovery: str, chunk_pairs: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk of 5 rows holds one user (or one bucket's partial sums), so every user's
    co-occurrences are summed across many products, packed in buckets of 3 row items, and
    the top-K pass runs in a partition per 7 items; the neighbours are the same."""
    if chunk_pairs < 10:
        monkeypatch.setattr(spark_similarity, "TOP_ITEMS_PER_PARTITION", 7)
        monkeypatch.setattr(spark_similarity, "BUCKET_ITEMS", 3)
    table, _ = landed
    config = dataclasses.replace(CONFIG, discovery=discovery)
    single = weight_events(table, config, AS_OF_MS)
    pairs = spark.createDataFrame(pa.table({
        "u": single.user_index.astype(np.int64), "i": single.item_index,
        "w": single.weight}))
    got = similarity(pairs, discovery, algorithm_params(config, discovery),
                     chunk_pairs=chunk_pairs)
    want = train(single, config).similarity
    matrix = sp.csr_matrix((got["value"].to_numpy(), (got["row"].to_numpy(),
                                                      got["col"].to_numpy())), shape=want.shape)
    assert got.num_rows == want.nnz > 0
    assert np.diff(matrix.indptr).max() == config.neighbours
    np.testing.assert_allclose(matrix.toarray(), want.toarray(), rtol=1e-6)


def test_many_row_files_hold_the_same_rows(spark: Any, landed: tuple[pa.Table, str],
                                           tmp_path: Path) -> None:
    """Parts of 16 users: each writes its file, streamed one part at a time. Without a
    popularity prior no list depends on which users share its ranking block."""
    table, url = landed
    config = dataclasses.replace(CONFIG, blend_popularity=0.0)
    store = DirectoryObjectStore(Path(url[len("file://"):]))
    events = read_events(spark, url, store.list(layout.EVENTS))
    trained = spark_training.train(spark, events, config, AS_OF_MS, "v2", tmp_path.as_uri(),
                                   part_users=16)
    out = DirectoryObjectStore(tmp_path)
    assert len(trained.row_keys) == 1 + -(-trained.counts["users"] // 16)
    got = [row for key in trained.row_keys for row in row_files.read(out.get(key))]
    assert trained.rows == len(got)
    result = compare(export_rows(train(weight_events(table, config, AS_OF_MS), config), "v2",
                                 0), got)
    assert result.different == []
    assert result.exact >= 0.9 * result.rows


def test_a_window_in_many_shuffle_partitions_gives_the_same_lists(
        spark: Any, landed: tuple[pa.Table, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At 500 events a partition the window's 4,243 rows go through 9 partitions in every
    shuffle (the dedup, the weighting, the similarity's products), as a big window's do; the
    lists are the single-node ones, and a small window after it is back to the session's
    own partitions."""
    monkeypatch.setattr(spark_session, "SHUFFLE_PARTITION_ROWS", 500)
    table, url = landed
    store = DirectoryObjectStore(Path(url[len("file://"):]))
    own = spark.conf.get(spark_session.SHUFFLE_PARTITIONS)
    try:
        events, report = read_window(spark, url, store.list(layout.EVENTS))
        assert spark.conf.get(spark_session.SHUFFLE_PARTITIONS) == "9"
        assert table.num_rows == 4243 and report.skipped == []
        trained = spark_training.train(spark, events, CONFIG, AS_OF_MS, "v3",
                                       tmp_path.as_uri(), deduplicated=True)
        events.unpersist()
    finally:
        assert spark_session.size_shuffles(spark, 0) == int(own)
    assert spark.conf.get(spark_session.SHUFFLE_PARTITIONS) == own
    out = DirectoryObjectStore(tmp_path)
    got = [row for key in trained.row_keys for row in row_files.read(out.get(key))]
    result = compare(export_rows(train(weight_events(table, CONFIG, AS_OF_MS), CONFIG), "v3",
                                 0), got)
    assert result.different == []
    assert result.exact >= 0.9 * result.rows


def test_the_sample_is_the_tuners(spark: Any) -> None:
    """More users than the sample's floor, so the cut falls inside a hash bucket."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 9, 3000)
    users = np.repeat([f"user-{n}" for n in range(sizes.size)], sizes)
    rng.shuffle(users)
    table = pa.table({"pos": np.arange(users.size, dtype=np.int64), "user": users.tolist()})
    max_events = 14_000
    sample = sample_users(spark.createDataFrame(table), max_events)
    got = set(sample.users.toArrow()["user"].to_pylist())

    single = pa.table({"user_id": users.tolist(), "item_id": ["i"] * users.size})
    kept, share = tuning.sample_users(single, max_events)
    assert got == set(kept["user_id"].to_pylist())
    assert sample.users_share == pytest.approx(share)
    assert sample.window_events == users.size
