"""Interaction files -> a pyarrow table with ``recs.batch.weighting.EVENT_COLUMNS``.

Every format ends in the columns the nightly weighting reads, so evaluation trains with the
same ``weight_events`` code as the batch. ``ts`` is a UTC millisecond timestamp.

Formats:

- ``events``: our CSV, ``user_id,item_id,event_type,timestamp[,category,event_id,session_id]``;
  timestamps are ISO-8601, epoch milliseconds, or epoch seconds (10 digits or fewer).
- ``taobao``: Alibaba's UserBehavior (no header: ``user,item,category,behavior,seconds``);
  ``pv`` -> view, ``cart`` -> cart, ``fav`` -> wishlist, ``buy`` -> purchase.
- ``retailrocket``: ``timestamp,visitorid,event,itemid,transactionid`` (ms);
  ``view`` -> view, ``addtocart`` -> cart, ``transaction`` -> purchase.
- ``movielens``: ``ratings.csv`` (``userId,movieId,rating,timestamp`` seconds). Ratings are read
  as implicit feedback: a rating of ``MOVIELENS_MIN_RATING`` (3.5) or more is a positive
  interaction (``purchase``: a watched-and-liked film, not recommended again); lower ratings
  are dropped, since a disliked film is not a signal to recommend its neighbours. When
  ``movies.csv`` lies beside it, an item's category is its first listed genre.
- ``online_retail``: UCI Online Retail order lines
  (``InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country``, the
  file may be gzipped), cleaned by the rules of its README: a purchase is a line whose invoice
  does not start with ``C`` (cancellation) or ``A`` (bad-debt adjustment), with a quantity and
  a unit price above zero and a customer; only product stock codes (five digits first, so
  ``POST``, ``DOT``, ``M``, ``BANK CHARGES``, gift vouchers and the like are not items). The
  invoice is the session (a basket), and an item counts once per basket: the event id is
  invoice and stock code, so the weighting's deduplication drops repeated lines. Invoice times
  are the shop's local time, read as UTC. ``retail_catalog`` gives the items' titles and prices.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from recs.batch.weighting import EVENT_COLUMNS
from recs.contracts.events import EVENT_TYPES
from recs.exceptions import ValidationError

FORMATS = ("events", "taobao", "retailrocket", "movielens", "online_retail")
MOVIELENS_MIN_RATING = 3.5

TAOBAO_TYPES = {"pv": "view", "cart": "cart", "fav": "wishlist", "buy": "purchase"}
RETAILROCKET_TYPES = {"view": "view", "addtocart": "cart", "transaction": "purchase"}
# A product's stock code starts with five digits (85123A, 22138); the rest are postage,
# fees, manual lines, samples and vouchers.
RETAIL_PRODUCT_CODE = r"^[0-9]{5}"
RETAIL_COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                  "UnitPrice", "CustomerID")

SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("user_id", pa.string()),
    ("session_id", pa.string()),
    ("item_id", pa.string()),
    ("event_type", pa.string()),
    ("ts", pa.timestamp("ms", tz="UTC")),
    ("category", pa.string()),
])
assert tuple(SCHEMA.names) == EVENT_COLUMNS


def load(path: str | Path, fmt: str) -> pa.Table:
    """Read ``path`` in format ``fmt`` into an ``EVENT_COLUMNS`` table sorted by time."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ValidationError("format", f"must be one of {list(FORMATS)}, got {fmt!r}")
    if not path.is_file():
        raise ValidationError("events", f"no such file: {path}")
    reader = {"events": _events, "taobao": _taobao, "retailrocket": _retailrocket,
              "movielens": _movielens, "online_retail": _online_retail}[fmt]
    table = reader(path)
    order = pc.sort_indices(table, sort_keys=[("ts", "ascending")])
    return table.take(order)


def _read(path: Path, names: list[str] | None = None,
          types: dict[str, pa.DataType] | None = None) -> pa.Table:
    read = pcsv.ReadOptions(column_names=names, autogenerate_column_names=False)
    convert = pcsv.ConvertOptions(column_types=types or {}, strings_can_be_null=True)
    try:
        return pcsv.read_csv(path, read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationError("events", f"{path}: {exc}") from exc


def _table(n: int, *, user: pa.Array, item: pa.Array, event_type: pa.Array, ts_ms: np.ndarray,
           category: pa.Array | None = None, event_id: pa.Array | None = None,
           session: pa.Array | None = None) -> pa.Table:
    null = pa.nulls(n, pa.string())
    if event_id is None:  # row numbers: unique, so deduplication keeps every row
        event_id = pa.array(np.arange(n).astype(str))
    return pa.Table.from_arrays(
        [
            event_id.cast(pa.string()),
            user.cast(pa.string()),
            null if session is None else session.cast(pa.string()),
            item.cast(pa.string()),
            event_type.cast(pa.string()),
            pa.array(ts_ms.astype(np.int64), pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            null if category is None else category.cast(pa.string()),
        ],
        schema=SCHEMA,
    )


def _map_types(column: pa.ChunkedArray, mapping: dict[str, str], what: str) -> pa.Array:
    values = column.cast(pa.string()).combine_chunks()
    known = pa.array(list(mapping))
    unknown = pc.unique(values.filter(pc.invert(pc.is_in(values, known)))).to_pylist()
    if unknown:
        raise ValidationError(what, f"unknown values {sorted(map(str, unknown))[:5]}")
    index = pc.index_in(values, value_set=known)
    return pa.array(list(mapping.values())).take(index)


def parse_timestamps(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Epoch milliseconds from ISO-8601 strings, epoch ms, or epoch seconds (<= 10 digits)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        raw = column.to_numpy(zero_copy_only=False).astype(np.int64)
        return np.where(np.abs(raw) < 10_000_000_000, raw * 1000, raw)
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    digits = pc.match_substring_regex(text, r"^-?\d+$").to_numpy(zero_copy_only=False)
    out = np.zeros(len(text), dtype=np.int64)
    if digits.any():
        raw = pc.cast(text.filter(pa.array(digits)), pa.int64()).to_numpy()
        out[digits] = np.where(np.abs(raw) < 10_000_000_000, raw * 1000, raw)
    rest = np.flatnonzero(~digits)
    if rest.size:
        strings = text.take(pa.array(rest))
        try:
            parsed = strings.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()
        except pa.ArrowInvalid:
            parsed = np.array([_iso_ms(s) for s in strings.to_pylist()], dtype=np.int64)
        out[rest] = parsed
    return out


def _iso_ms(text: str | None) -> int:
    if not text:
        raise ValidationError("timestamp", "missing value")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError("timestamp", f"cannot parse {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _events(path: Path) -> pa.Table:
    table = _read(path, types={"timestamp": pa.string(), "user_id": pa.string(),
                               "item_id": pa.string(), "category": pa.string(),
                               "event_id": pa.string(), "session_id": pa.string()})
    missing = [c for c in ("user_id", "item_id", "event_type", "timestamp")
               if c not in table.column_names]
    if missing:
        raise ValidationError("events", f"{path}: missing CSV columns {missing}")
    kinds = table["event_type"].cast(pa.string())
    unknown = pc.unique(pc.filter(kinds, pc.invert(pc.is_in(kinds, pa.array(EVENT_TYPES)))))
    if len(unknown):
        raise ValidationError("event_type", f"unknown types {sorted(unknown.to_pylist())[:5]}")

    def optional(name: str) -> pa.Array | None:
        if name not in table.column_names:
            return None
        return table[name].combine_chunks()

    return _table(
        table.num_rows,
        user=table["user_id"].combine_chunks(),
        item=table["item_id"].combine_chunks(),
        event_type=kinds.combine_chunks(),
        ts_ms=parse_timestamps(table["timestamp"]),
        category=optional("category"),
        event_id=optional("event_id"),
        session=optional("session_id"),
    )


def _taobao(path: Path) -> pa.Table:
    names = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
    table = _read(path, names, {"user_id": pa.string(), "item_id": pa.string(),
                                "category_id": pa.string(), "behavior_type": pa.string(),
                                "timestamp": pa.int64()})
    table = table.filter(pc.is_valid(table["timestamp"]))
    return _table(
        table.num_rows,
        user=table["user_id"].combine_chunks(),
        item=table["item_id"].combine_chunks(),
        event_type=_map_types(table["behavior_type"], TAOBAO_TYPES, "behavior_type"),
        ts_ms=table["timestamp"].to_numpy().astype(np.int64) * 1000,
        category=table["category_id"].combine_chunks(),
    )


def _retailrocket(path: Path) -> pa.Table:
    table = _read(path, types={"timestamp": pa.int64(), "visitorid": pa.string(),
                               "itemid": pa.string(), "event": pa.string(),
                               "transactionid": pa.string()})
    missing = [c for c in ("timestamp", "visitorid", "event", "itemid")
               if c not in table.column_names]
    if missing:
        raise ValidationError("events", f"{path}: missing RetailRocket columns {missing}")
    return _table(
        table.num_rows,
        user=table["visitorid"].combine_chunks(),
        item=table["itemid"].combine_chunks(),
        event_type=_map_types(table["event"], RETAILROCKET_TYPES, "event"),
        ts_ms=table["timestamp"].to_numpy().astype(np.int64),
    )


def _movielens(path: Path) -> pa.Table:
    table = _read(path, types={"userId": pa.string(), "movieId": pa.string(),
                               "rating": pa.float64(), "timestamp": pa.int64()})
    missing = [c for c in ("userId", "movieId", "rating", "timestamp")
               if c not in table.column_names]
    if missing:
        raise ValidationError("events", f"{path}: missing MovieLens columns {missing}")
    table = table.filter(pc.greater_equal(table["rating"], MOVIELENS_MIN_RATING))
    movies = path.with_name("movies.csv")
    category = None
    if movies.is_file():
        genres = _read(movies, types={"movieId": pa.string(), "genres": pa.string()})
        first = pc.list_element(pc.split_pattern(genres["genres"], "|"), 0)
        lookup = pc.index_in(table["movieId"], value_set=genres["movieId"].combine_chunks())
        category = first.combine_chunks().take(lookup)
    n = table.num_rows
    return _table(
        n,
        user=table["userId"].combine_chunks(),
        item=table["movieId"].combine_chunks(),
        event_type=pa.array(np.full(n, "purchase")),
        ts_ms=table["timestamp"].to_numpy().astype(np.int64) * 1000,
        category=category,
    )


def _retail_purchases(path: Path) -> pa.Table:
    """The README's purchases: product lines of customers, not cancelled, positive."""
    table = _read(path, types={"InvoiceNo": pa.string(), "StockCode": pa.string(),
                               "Description": pa.string(), "Quantity": pa.float64(),
                               "InvoiceDate": pa.string(), "UnitPrice": pa.float64(),
                               "CustomerID": pa.string()})
    missing = [c for c in RETAIL_COLUMNS if c not in table.column_names]
    if missing:
        raise ValidationError("events", f"{path}: missing Online Retail columns {missing}")
    invoice = table["InvoiceNo"]
    keep = pc.and_(
        pc.and_(pc.invert(pc.starts_with(invoice, "C")), pc.invert(pc.starts_with(invoice, "A"))),
        pc.and_(pc.greater(table["Quantity"], 0), pc.greater(table["UnitPrice"], 0)))
    keep = pc.and_(keep, pc.and_(pc.is_valid(table["CustomerID"]),
                                 pc.match_substring_regex(table["StockCode"],
                                                          RETAIL_PRODUCT_CODE)))
    return table.filter(pc.fill_null(keep, False))


def _retail_customer(column: pa.ChunkedArray) -> pa.Array:
    """``17850.0`` -> ``17850``: the ids are written as floats."""
    as_int = pc.cast(pc.cast(column, pa.float64()), pa.int64())
    return pc.cast(as_int, pa.string()).combine_chunks()


def _online_retail(path: Path) -> pa.Table:
    table = _retail_purchases(path)
    n = table.num_rows
    invoice = table["InvoiceNo"].combine_chunks()
    item = pc.utf8_upper(table["StockCode"]).combine_chunks()
    return _table(
        n,
        user=_retail_customer(table["CustomerID"]),
        item=item,
        event_type=pa.array(np.full(n, "purchase")),
        ts_ms=parse_timestamps(table["InvoiceDate"]),
        event_id=pc.binary_join_element_wise(invoice, item, ":"),
        session=invoice,
    )


def retail_catalog(path: str | Path) -> pa.Table:
    """Online Retail items as a catalog: ``item_id``, ``title`` (the most common description),
    ``price`` (the lower median unit price) and ``first_ms`` (the first sale), from the same cleaned
    purchases as the ``online_retail`` format."""
    table = _retail_purchases(Path(path))
    item = np.asarray(pc.utf8_upper(table["StockCode"]).to_pylist(), dtype=str)
    title = np.asarray(pc.fill_null(pc.utf8_trim_whitespace(table["Description"]), "")
                       .to_pylist(), dtype=str)
    price = table["UnitPrice"].to_numpy()
    ts = parse_timestamps(table["InvoiceDate"])
    ids, code = np.unique(item, return_inverse=True)
    first = np.full(ids.size, np.iinfo(np.int64).max)
    np.minimum.at(first, code, ts)
    order = np.lexsort((price, code))
    starts = np.searchsorted(code[order], np.arange(ids.size))
    counts = np.bincount(code, minlength=ids.size)
    median = price[order][starts + (counts - 1) // 2]
    # The most common description per item (ties: the one seen first).
    seen: dict[str, Counter[str]] = {}
    for it, t in zip(item.tolist(), title.tolist(), strict=True):
        seen.setdefault(it, Counter())[t] += 1
    best = {it: counter.most_common(1)[0][0] for it, counter in seen.items()}
    return pa.table({
        "item_id": pa.array(ids.tolist(), pa.string()),
        "title": pa.array([best[i] for i in ids.tolist()], pa.string()),
        "price": pa.array(median, pa.float64()),
        "first_ms": pa.array(first, pa.int64()),
    })
