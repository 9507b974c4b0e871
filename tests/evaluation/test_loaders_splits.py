"""Loaders on tiny files written here; splits never leak test events into training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from recs.batch.evaluation import split
from recs.batch.weighting import EVENT_COLUMNS
from recs.exceptions import ValidationError
from recs_local.evaluation import loaders

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_events_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", (
        "user_id,item_id,event_type,timestamp,category\n"
        "u1,rice,view,2026-11-01T10:00:00Z,food\n"
        "u1,rice,purchase,1793527200000,food\n"
        "u2,milk,cart,1793527200,\n"
        "u2,lamb,view,2026-11-01 09:00:00,meat\n"))
    t = loaders.load(path, "events")
    assert tuple(t.column_names) == EVENT_COLUMNS
    assert t.num_rows == 4
    ts = split.ts_ms(t)
    assert np.all(np.diff(ts) >= 0)  # sorted by time
    assert 1793527200000 in ts.tolist()
    assert sorted(t["event_type"].to_pylist()) == ["cart", "purchase", "view", "view"]


def test_events_csv_rejects_unknown_types(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "user_id,item_id,event_type,timestamp\nu,i,like,1\n")
    with pytest.raises(ValidationError, match="like"):
        loaders.load(path, "events")


def test_taobao(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "1,10,100,pv,1511544070\n1,10,100,buy,1511544080\n"
                                     "2,11,101,fav,1511544090\n2,12,101,cart,1511544100\n")
    t = loaders.load(path, "taobao")
    assert t["event_type"].to_pylist() == ["view", "purchase", "wishlist", "cart"]
    assert t["category"].to_pylist()[0] == "100"
    assert split.ts_ms(t)[0] == 1511544070000


def test_retailrocket(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "timestamp,visitorid,event,itemid,transactionid\n"
                                     "1433221332117,257597,view,355908,\n"
                                     "1433224214164,992329,addtocart,248676,\n"
                                     "1433221999827,111016,transaction,318965,4000\n")
    t = loaders.load(path, "retailrocket")
    assert t["event_type"].to_pylist() == ["view", "purchase", "cart"]
    assert t["user_id"].to_pylist() == ["257597", "111016", "992329"]


def test_movielens_keeps_good_ratings_with_genre(tmp_path: Path) -> None:
    path = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n"
                                           "1,1,4.0,964982703\n1,3,2.0,964981247\n"
                                           "2,1,3.5,964982224\n")
    write(tmp_path / "movies.csv", 'movieId,title,genres\n1,Toy Story (1995),'
                                   "Adventure|Animation\n3,Grumpier Old Men (1995),Comedy\n")
    t = loaders.load(path, "movielens")
    assert t.num_rows == 2  # the 2.0 rating is dropped
    assert set(t["event_type"].to_pylist()) == {"purchase"}
    assert t["category"].to_pylist() == ["Adventure", "Adventure"]


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="format"):
        loaders.load(tmp_path / "x.csv", "parquet")
    with pytest.raises(ValidationError, match="no such file"):
        loaders.load(tmp_path / "x.csv", "events")


def table(rows: list[tuple[str, str, int]]) -> pa.Table:
    n = len(rows)
    return pa.table({
        "event_id": [str(i) for i in range(n)], "user_id": [r[0] for r in rows],
        "session_id": pa.nulls(n, pa.string()), "item_id": [r[1] for r in rows],
        "event_type": ["view"] * n, "ts": pa.array([r[2] for r in rows], pa.int64()),
        "category": pa.nulls(n, pa.string())})


HOUR = 3_600_000
ROWS = [("a", "i1", 0), ("a", "i2", HOUR), ("a", "i3", 10 * HOUR), ("a", "i4", 10 * HOUR + 60),
        ("b", "i1", 2 * HOUR), ("b", "i5", 20 * HOUR), ("c", "i9", 3 * HOUR),
        ("d", "i2", 4 * HOUR), ("d", "i3", 30 * HOUR), ("e", "i1", 31 * HOUR)]


def test_global_time_split_has_no_leakage() -> None:
    s = split.global_time(table(ROWS), test_fraction=0.3)
    train, test = split.ts_ms(s.train), split.ts_ms(s.test)
    assert train.max() < s.as_of_ms <= test.min()
    assert s.train.num_rows + s.test.num_rows == len(ROWS)
    assert set(s.test_users.tolist()) <= {"a", "b", "c", "d", "e"}
    v = split.validation(s, test_fraction=0.3)
    assert split.ts_ms(v.test).max() < s.as_of_ms  # validation never sees the test
    assert v.train.num_rows + v.test.num_rows == s.train.num_rows


def test_last_basket_split_per_user() -> None:
    s = split.last_basket(table(ROWS))
    test_rows = {(u, i) for u, i in zip(s.test["user_id"].to_pylist(),
                                        s.test["item_id"].to_pylist(), strict=True)}
    assert test_rows == {("a", "i3"), ("a", "i4"), ("b", "i5"), ("d", "i3")}
    train_users = s.train["user_id"].to_pylist()
    train_ts = split.ts_ms(s.train)
    for user in ("a", "b", "d"):  # every test event comes after that user's training events
        user_train = train_ts[np.array(train_users) == user]
        user_test = split.ts_ms(s.test)[np.array(s.test["user_id"].to_pylist()) == user]
        assert user_train.max() < user_test.min()
    assert s.test_users.tolist() == ["a", "b", "d"]


@pytest.mark.parametrize("name,rel,rows", [
    ("taobao", "taobao_userbehavior_head/UserBehavior_head.csv", 84_287),
    ("movielens", "movielens_ml_latest_small/ratings.csv", 61_716),
])
def test_shared_datasets_load(name: str, rel: str, rows: int) -> None:
    path = DATASETS / rel
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    t = loaders.load(path, name)
    assert t.num_rows == rows
    s = split.global_time(t)
    assert split.ts_ms(s.train).max() < split.ts_ms(s.test).min()
