"""The export step's rows: what DynamoDB receives for each list, on rice/milk/lamb."""

from __future__ import annotations

import pytest

from recs.batch.config import BatchConfig
from recs.batch.steps import export
from recs.batch.training import train
from recs.batch.weighting import weight_events
from tests.algorithms.test_training import AS_OF, rice_milk_lamb


def rows(catalog: dict | None = None) -> dict[str, list[list]]:
    model = train(weight_events(rice_milk_lamb(), BatchConfig(), AS_OF), BatchConfig())
    return {r.key: r.items for r in export.export_rows(model, "v1", 99, catalog)}


def test_every_list_has_its_row_and_entries_name_their_reason() -> None:
    out = rows({"lamb": ["groceries/meat", "Leg of lamb", True]})
    assert {"U#B", "U#C", "I#rice", "I#milk", "POP#global"} <= set(out)
    assert "POP#C#electronics" in out
    for key, entries in out.items():
        assert all(len(e) == 7 for e in entries), key
        scores = [e[1] for e in entries]
        assert all(round(s, 4) == s for s in scores), key
        if key.startswith("I#"):
            assert scores == sorted(scores, reverse=True), key
            assert all(e[2] == key[2:] and e[3] == "similar" for e in entries)
        if key.startswith("POP#"):
            assert all(e[2] is None and e[3] == "trending" for e in entries)
    # C bought rice and milk; A, who bought both, also bought lamb: lamb for C, because of
    # rice or milk, with the catalog's title and category.
    lamb = next(e for e in out["U#C"] if e[0] == "lamb")
    assert lamb[2] in {"rice", "milk"} and lamb[3] == "purchase"
    assert lamb[4:6] == ["groceries/meat", "Leg of lamb"]


def test_an_unavailable_item_is_in_no_list() -> None:
    out = rows({"lamb": ["groceries/meat", "Leg of lamb", False]})
    assert all(e[0] != "lamb" for entries in out.values() for e in entries)
    assert all(entries for key, entries in out.items() if not key.startswith("POP#C#"))
    assert [e[0] for e in rows()["I#rice"]].count("lamb") == 1  # available, it is listed


@pytest.mark.parametrize("block", [1, 2, 3])
def test_rows_do_not_depend_on_the_block_size(block: int, monkeypatch) -> None:
    whole = rows()
    monkeypatch.setattr(export, "EXPORT_BLOCK_ROWS", block)
    assert rows() == whole
