"""Weighting: event-type weights, time decay from the window's end, returns, caps, dedup."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recs.batch import weighting
from recs.batch.config import BatchConfig
from recs.batch.interactions import EVENT_CODE, Interactions
from recs.batch.weighting import DAY_MS, deduplicate, string_hashes, weight_events
from tests.conftest import DAY0

AS_OF = int(DAY0.timestamp() * 1000) + DAY_MS


def table(rows: list[tuple]) -> pa.Table:
    """Rows of (user, item, type, age in days[, category])."""
    return pa.table({
        "event_id": [f"e{n}" for n in range(len(rows))],
        "user_id": [r[0] for r in rows],
        "session_id": pa.array([None] * len(rows), pa.string()),
        "item_id": [r[1] for r in rows],
        "event_type": [r[2] for r in rows],
        "ts": pa.array([AS_OF - 1 - int(r[3] * DAY_MS) for r in rows],
                       pa.timestamp("ms", tz="UTC")),
        "category": pa.array([r[4] if len(r) > 4 else None for r in rows], pa.string()),
    })


def weights(inter: Interactions) -> dict[tuple[str, str], float]:
    return {(str(inter.user_ids[u]), str(inter.item_ids[i])): float(w)
            for u, i, w in zip(inter.user_index, inter.item_index, inter.weight, strict=True)}


def test_a_purchase_outweighs_a_cart_which_outweighs_a_view() -> None:
    inter = weight_events(table([("u", "a", "purchase", 0), ("u", "b", "cart", 0),
                                 ("u", "c", "view", 0)]), BatchConfig(), AS_OF)
    w = weights(inter)
    assert w[("u", "a")] > w[("u", "b")] > w[("u", "c")] > 0


def test_weight_halves_every_half_life() -> None:
    config = BatchConfig(half_life_days=10)
    inter = weight_events(table([("u", "new", "view", 0), ("u", "old", "view", 10)]),
                          config, AS_OF)
    w = weights(inter)
    assert w[("u", "old")] == pytest.approx(w[("u", "new")] / 2, rel=1e-5)


def test_a_return_cancels_the_purchase_and_the_pair_is_dropped() -> None:
    inter = weight_events(table([("u", "a", "purchase", 1), ("u", "a", "return", 1),
                                 ("u", "b", "view", 1)]), BatchConfig(), AS_OF)
    assert ("u", "a") not in weights(inter)


def test_events_outside_the_window_do_not_count() -> None:
    config = BatchConfig(training_window_days=7)
    inter = weight_events(table([("u", "a", "view", 8), ("u", "b", "view", 1),
                                 ("u", "c", "view", -0.5)]), config, AS_OF)
    assert set(weights(inter)) == {("u", "b")}


def test_a_heavy_user_keeps_only_their_strongest_items() -> None:
    rows = [("bot", f"i{n}", "view", 0) for n in range(20)] + [("bot", "i0", "purchase", 0)]
    inter = weight_events(table(rows), BatchConfig(max_items_per_user=5), AS_OF)
    kept = {i for (_, i) in weights(inter)}
    assert len(kept) == 5 and "i0" in kept


def test_a_duplicate_event_id_counts_once() -> None:
    t = table([("u", "a", "view", 0), ("u", "a", "view", 0)])
    t = t.set_column(0, "event_id", pa.array(["same", "same"]))
    single = weight_events(table([("u", "a", "view", 0)]), BatchConfig(), AS_OF)
    assert weights(weight_events(t, BatchConfig(), AS_OF)) == weights(single)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(max_size=20) | st.sampled_from(
    ["", "a", "abcdefgh", "abcdefgh1", "abcdefgh2", "abcdefghabcdefgh", "\x00", "\x00\x00"]),
    min_size=1, max_size=40), cut=st.integers(0, 40), width=st.sampled_from(
    [pa.string(), pa.large_string()]))
def test_equal_ids_hash_equal_and_different_ids_differently(texts, cut, width) -> None:
    """Whatever the chunking, slicing and offset width; bytes past an 8-byte word count."""
    cut = min(cut, len(texts))
    column = pa.chunked_array([pa.array(texts[:cut], width), pa.array(texts[cut:], width)],
                              type=width)
    hashes = string_hashes(column)
    sliced = string_hashes(pa.array(["pad", *texts], width).slice(1))
    np.testing.assert_array_equal(hashes, sliced)
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            assert (hashes[i] == hashes[j]) == (a == b)


def test_dedup_keeps_the_first_row_of_each_id_in_order_and_every_row_without_one() -> None:
    ids = ["x", "y", "x", None, "z" * 30, None, "y", "z" * 30, "z" * 29 + "q"]
    events = pa.table({"event_id": pa.array(ids, pa.string()), "n": list(range(len(ids)))})
    many_chunks = pa.Table.from_batches(events.to_batches(max_chunksize=2))
    for t in (events, many_chunks):
        assert deduplicate(t)["n"].to_pylist() == [0, 1, 3, 4, 5, 8]
    unique = events.slice(0, 2)
    assert deduplicate(unique) is unique  # nothing repeated: the table itself, no copy


def test_the_strongest_event_and_latest_category_are_kept() -> None:
    inter = weight_events(table([("u", "a", "view", 2, "old/cat"), ("u", "a", "cart", 1),
                                 ("u", "a", "view", 0, "food/rice")]), BatchConfig(), AS_OF)
    assert inter.top_event.tolist() == [EVENT_CODE["cart"]]
    assert inter.item_category.tolist() == ["food/rice"]


def test_anonymous_sessions_are_users_of_their_own() -> None:
    t = table([("u", "a", "view", 0)])
    t = t.set_column(1, "user_id", pa.array([None], pa.string()))
    t = t.set_column(2, "session_id", pa.array(["s1"]))
    inter = weight_events(t, BatchConfig(), AS_OF)
    assert inter.user_ids.tolist() == ["~s~s1"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("uvw"), st.sampled_from("abcd"),
                          st.sampled_from(["view", "cart", "purchase", "wishlist", "click"]),
                          st.floats(min_value=0, max_value=60)), min_size=1, max_size=40))
def test_weights_are_positive_and_serialise_losslessly(rows: list[tuple]) -> None:
    inter = weight_events(table(rows), BatchConfig(), AS_OF)
    assert (inter.weight > 0).all()
    pairs = set(zip(inter.user_index.tolist(), inter.item_index.tolist(), strict=True))
    assert len(pairs) == inter.weight.size
    again = Interactions.from_bytes(inter.to_bytes())
    assert np.array_equal(again.weight, inter.weight)
    assert again.item_ids.tolist() == inter.item_ids.tolist()


def test_no_events_give_empty_interactions() -> None:
    inter = weight_events(table([("u", "a", "view", 100)]), BatchConfig(training_window_days=7),
                          AS_OF)
    assert inter.n_users == 0 and inter.n_items == 0
    assert timedelta(days=1)  # the window is measured from as_of, not the wall clock


def test_an_items_category_is_the_latest_one_reported_whatever_the_row_order() -> None:
    rows = [("u1", "rice", "view", 3, "food"), ("u2", "rice", "view", 1, "food/rice"),
            ("u3", "rice", "view", 0.5), ("u1", "tea", "view", 2), ("u2", "tea", "cart", 1),
            ("u3", "pan", "view", 2, "kitchen"), ("u1", "pan", "view", 4, "home")]
    events = table(rows)
    for order in (list(range(len(rows))), list(reversed(range(len(rows))))):
        shuffled = events.take(pa.array(order))
        chunked = pa.Table.from_batches(shuffled.to_batches(max_chunksize=3))
        inter = weight_events(chunked, BatchConfig(), AS_OF)
        got = dict(zip(inter.item_ids.tolist(), inter.item_category.tolist(), strict=True))
        # rice's latest report wins over its older one and over a later row without one;
        # tea never had a category.
        assert got == {"rice": "food/rice", "tea": "", "pan": "kitchen"}


def test_two_category_reports_at_the_same_time_the_later_row_wins() -> None:
    rows = [("u1", "rice", "view", 1, "food"), ("u2", "rice", "view", 1, "food/rice")]
    for order, expected in (([0, 1], "food/rice"), ([1, 0], "food")):
        inter = weight_events(table(rows).take(pa.array(order)), BatchConfig(), AS_OF)
        assert inter.item_category.tolist() == [expected]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("uvwxyz"), st.sampled_from("abcd"),
                          st.sampled_from(["view", "cart", "purchase", "return"]),
                          st.floats(min_value=0, max_value=60)), min_size=1, max_size=60),
       st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=4),
       st.integers(min_value=1, max_value=3))
def test_summing_a_few_users_at_a_time_changes_nothing(rows: list[tuple], block: int,
                                                        cap: int, threads: int) -> None:
    """Blocks of users bound the weighting's memory and run on several threads at once; the
    result is the one-block result, bit for bit, whatever the block size, the number of
    threads and the per-user cap."""
    config = BatchConfig(max_items_per_user=cap)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECS_THREADS", "1")
        whole = weight_events(table(rows), config, AS_OF)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weighting, "BLOCK_EVENTS", block)
        patch.setenv("RECS_THREADS", str(threads))
        blocked = weight_events(table(rows), config, AS_OF)
    for field in ("user_ids", "item_ids", "user_index", "item_index", "weight", "top_event",
                  "item_category", "trending"):
        a, b = getattr(whole, field), getattr(blocked, field)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), field
