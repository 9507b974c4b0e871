"""The Online Retail loader applies the dataset README's cleaning rules, on a tiny gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from recs.batch.weighting import EVENT_COLUMNS
from recs_local.evaluation import loaders

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
RETAIL = DATASETS / "uci_online_retail" / "online_retail.csv.gz"

LINES = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,2,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,17850.0,United Kingdom
C536379,71053,WHITE METAL LANTERN,-1,2010-12-01 09:41:00,3.39,14527.0,United Kingdom
536380,22138,"BAKING SET 9 PIECE, RETROSPOT ",3,2010-12-01 09:45:00,4.95,,United Kingdom
536381,22138,BAKING SET 9 PIECE RETROSPOT ,0,2010-12-01 09:46:00,4.95,15311.0,United Kingdom
536382,22138,BAKING SET 9 PIECE RETROSPOT ,3,2010-12-02 10:00:00,4.85,15311.0,United Kingdom
536383,22138,BAKING SET 9 PIECE RETROSPOT ,1,2010-12-03 10:00:00,5.05,15311.0,United Kingdom
536384,85123a,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-04 11:00:00,0.0,15311.0,United Kingdom
A563185,85123A,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom
"""


@pytest.fixture
def retail(tmp_path: Path) -> Path:
    path = tmp_path / "online_retail.csv.gz"
    path.write_bytes(gzip.compress(LINES.encode()))
    return path


def test_purchases_only_of_customers_and_products_one_per_basket(retail: Path) -> None:
    t = loaders.load(retail, "online_retail")
    assert tuple(t.column_names) == EVENT_COLUMNS
    rows = t.to_pylist()
    # The cancellation, the adjustment, postage, the line without a customer, the zero
    # quantity and the zero price are gone; the repeated lantern line shares its event id.
    assert [(r["user_id"], r["item_id"], r["session_id"]) for r in rows] == [
        ("17850", "85123A", "536365"), ("17850", "71053", "536365"),
        ("17850", "71053", "536365"), ("15311", "22138", "536382"),
        ("15311", "22138", "536383")]
    assert {r["event_type"] for r in rows} == {"purchase"}
    assert rows[1]["event_id"] == rows[2]["event_id"] == "536365:71053"
    assert rows[3]["ts"].isoformat() == "2010-12-02T10:00:00+00:00"


def test_catalog_has_title_median_price_and_first_sale(retail: Path) -> None:
    c = loaders.retail_catalog(retail).to_pylist()
    by_id = {r["item_id"]: r for r in c}
    assert sorted(by_id) == ["22138", "71053", "85123A"]
    assert by_id["22138"]["title"] == "BAKING SET 9 PIECE RETROSPOT"
    assert by_id["22138"]["price"] == 4.85  # the lower median of its kept lines, 4.85 and 5.05
    assert by_id["71053"]["first_ms"] == by_id["85123A"]["first_ms"]


@pytest.mark.skipif(not RETAIL.is_file(), reason="shared Online Retail data absent")
def test_the_full_file_matches_its_readme() -> None:
    t = loaders.load(RETAIL, "online_retail")
    users = np.unique(np.asarray(t["user_id"].to_pylist()))
    # The README counts 397,924 purchase lines of 4,339 customers with every stock code;
    # without the non-product codes a few lines and customers (postage only) go.
    assert 390_000 < t.num_rows < 397_924
    assert 4_300 < users.size <= 4_339
