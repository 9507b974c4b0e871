"""The export's rows made a column at a time: the keys, entries and histories are the ones
the contracts name, value for value and type for type (what the store JSON-encodes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from recs.batch.config import BatchConfig
from recs.batch.interactions import SESSION_PREFIX
from recs.batch.model import Model
from recs.batch.steps import export
from recs.batch.training import train
from recs.batch.weighting import weight_events
from recs.contracts import keys
from tests.algorithms.test_training import AS_OF, rice_milk_lamb


def test_shopper_keys_are_user_and_session_keys() -> None:
    ids = np.asarray(["alice", f"{SESSION_PREFIX}s-42", "bob", "é☃", f"x{SESSION_PREFIX}"])
    assert export.shopper_keys(ids).tolist() == [
        "U#alice", "S#s-42", "U#bob", "U#é☃", f"U#x{SESSION_PREFIX}"]
    assert export.shopper_keys(np.asarray(["alice", "bob"])).tolist() == ["U#alice", "U#bob"]
    assert export.shopper_keys(np.asarray([], dtype=str)).tolist() == []


def test_item_keys_are_item_keys() -> None:
    assert export.item_keys(np.asarray(["rice", "é☃"])).tolist() == [
        keys.item_key("rice"), keys.item_key("é☃")]


def _model() -> Model:
    return train(weight_events(rice_milk_lamb(), BatchConfig(), AS_OF), BatchConfig())


def test_rows_hold_plain_lists_floats_and_strings() -> None:
    """The object table's ``tolist`` gives what the zipped columns gave: lists of Python
    values, a score a ``float`` rounded to 4 places (not a NumPy scalar)."""
    rows = list(export.export_rows(Model.from_bytes(_model().to_bytes()), "v1", 99))
    assert rows
    for row in rows:
        assert type(row.items) is list, row.key
        for entry in row.items:
            assert type(entry) is list and len(entry) == len(keys.Entry._fields)
            assert type(entry[0]) is str and type(entry[1]) is float
            assert entry[1] == round(entry[1], 4)
            assert all(value is None or type(value) is str for value in entry[2:])
        assert type(row.history) is list if row.key.startswith("U#") else row.history == ()
        json.dumps(row.items)


def test_a_session_pseudo_user_gets_a_session_row_with_its_history() -> None:
    model = _model()
    user = int(np.flatnonzero(np.diff(model.rec_indptr))[0])
    user_ids = model.user_ids.astype(object)
    user_ids[user] = f"{SESSION_PREFIX}tab-1"
    model.user_ids = user_ids.astype(str)
    rows = {row.key: row for row in export.export_rows(model, "v1", 0)}
    seen = model.history_items[model.history_indptr[user]:model.history_indptr[user + 1]]
    assert "S#tab-1" in rows
    assert rows["S#tab-1"].history == model.item_ids[seen].tolist()
    assert set(export.row_keys(model)) >= set(rows)


@pytest.mark.parametrize("block", [1, 2, 1000])
def test_histories_and_keys_do_not_depend_on_the_block_size(block: int,
                                                            monkeypatch) -> None:
    model = _model()
    whole = [(row.key, row.items, list(row.history)) for row in
             export.export_rows(model, "v1", 0)]
    monkeypatch.setattr(export, "EXPORT_BLOCK_ROWS", block)
    assert [(row.key, row.items, list(row.history)) for row in
            export.export_rows(model, "v1", 0)] == whole


@given(st.lists(st.lists(st.tuples(st.integers(0, 30),
                                   st.sampled_from([0.0, -0.0, 0.5, 0.25, -1.5, 1e-30, 3e38,
                                                    0.1, 0.1000001])),
                         max_size=12), min_size=1, max_size=8),
       st.sampled_from([np.float32, np.float64]), st.booleans())
def test_neighbour_order_is_the_lexsort_order(lists: list[list[tuple[int, float]]],
                                              dtype: type, shuffled: bool) -> None:
    """Best first within each row, ties by column, whatever the scores' signs, zeros and
    ties, float32 or not, the columns sorted or not."""
    indptr, indices, data = [0], [], []
    for entries in lists:
        columns = dict(entries)  # one value per column, as in a CSR matrix
        order = sorted(columns, reverse=shuffled)  # reversed: the columns not sorted
        indices += order
        data += [columns[c] for c in order]
        indptr.append(len(indices))
    sim = sp.csr_matrix((np.asarray(data, dtype=dtype), np.asarray(indices, dtype=np.int32),
                         np.asarray(indptr)), shape=(len(lists), 31))
    rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
    assert np.array_equal(export.neighbour_order(sim, rows),
                          np.lexsort((sim.indices, -sim.data, rows)))
