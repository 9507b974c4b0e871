"""The shoppers' keys encoded in parts by hash give the codes of one encoding of the column."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recs.batch import weighting
from recs.batch.weighting import encode, encode_many, strings

keys = st.sampled_from(["u1", "u2", "u10", "", "~s~a", "é", "a" * 17, "shopper-0042"]) | st.none()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(keys, max_size=12), min_size=1, max_size=5),
       st.integers(min_value=1, max_value=4))
def test_parts_merge_into_the_codes_and_values_of_one_encoding(chunks: list[list[str | None]],
                                                               workers: int) -> None:
    """Whatever the chunks, nulls (code 0, no value) and empty strings, on any number of
    workers: the values in the order of their first row, each row's code pointing at its
    value."""
    column = pa.chunked_array([pa.array(chunk, pa.string()) for chunk in chunks], pa.string())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weighting, "ENCODE_PARTS_MIN_ROWS", 0)
        patch.setenv("RECS_THREADS", str(workers))
        codes, values = encode_many(column)
    expected_codes, expected_values = encode(column)
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(codes, expected_codes)
    np.testing.assert_array_equal(values, expected_values)
    rows = column.to_pylist()
    assert values.tolist() == list(dict.fromkeys(r for r in rows if r is not None))
    assert [values[c] if r is not None else None for c, r in zip(codes, rows, strict=True)] == rows


def test_a_known_column_split_across_parts() -> None:
    column = pa.chunked_array([["b", None, "a"], ["c", "b"], [], ["a", "d", "c"]])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weighting, "ENCODE_PARTS_MIN_ROWS", 0)
        codes, values = encode_many(column)
    assert values.tolist() == ["b", "a", "c", "d"]
    assert codes.tolist() == [0, 0, 1, 2, 0, 1, 3, 2]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab~-0\x00é"), max_size=9), max_size=12),
       st.integers(min_value=0, max_value=3), st.booleans())
def test_strings_are_numpys_strings_of_the_values(values: list[str], skip: int,
                                                  large: bool) -> None:
    """ASCII without a Python string per value, anything else through them: the same array,
    of the same width, for slices and large strings too."""
    array = pa.array(values, pa.large_string() if large else pa.string())[skip:]
    made, expected = strings(array), np.asarray(array.to_pylist(), dtype=str)
    assert made.dtype == expected.dtype
    np.testing.assert_array_equal(made, expected)
