"""The DynamoDB keys the product writes and reads, and the layout of a stored list entry.

Four tables (``recs.contracts.resources``):

- recommendations, ``pk`` = a list key, ``sk`` = the model version. The nightly export
  writes, the API reads, rollback checks a version is still stored:
  ``U#<user>`` (a user's list), ``S#<session>`` (an anonymous session's list),
  ``I#<item>`` (an item's neighbours), ``POP#global`` (trending), ``POP#C#<category path>``
  (trending in a category; a path like ``food/dairy``), and ``KEYS#<n>``, the chunks of the
  list of the version's row keys (never read by the API).
- realtime, ``pk`` only: the same ``U#``/``S#`` shopper keys (ingest appends a shopper's
  recent events, the API reads them) and the catalog state rows: the shards of the
  unavailable items ``CATALOG#UNAVAILABLE#<n>`` and the new arrivals ``CATALOG#NEW``.
- registry, ``pk``/``sk``: ``MODEL``/``<version>`` per model version, and ``LIVE``/``LIVE``
  for the pointer to the version being served.
- experiments, ``pk``/``sk``: definitions and their counts (below, "experiments table"),
  and the operator console's daily counters ("operations rows").

A key is its kind's prefix followed by the id as given: ids may contain ``#``, ``/`` or any
other character, and ``parse_list_key`` splits on the prefix alone, so no id is escaped.

A shopper's list row (``U#``/``S#``) also holds ``history``: a JSON list of the items of
their nightly history (every item of theirs the model trained on, in item order), at most
``HISTORY_MAX_BYTES`` of it, so a list that leaves out everything the shopper saw
(``exclude=seen``) knows their past without a second read.

A list is stored as one JSON string of entries, each entry a JSON list laid out as ``Entry``.
The API decodes a whole list with one ``json.loads`` and reads the decoded lists by position
(``ITEM`` ... ``BECAUSE_TITLE``): turning hundreds of entries per request into objects would
cost more than the rest of the request. Code that builds or inspects a single entry uses
``Entry`` itself; ``json.dumps`` writes it as the same list.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from recs.contracts.ids import log_id

# -- recommendations table: list keys -------------------------------------------------------
USER_PREFIX = "U#"
SESSION_PREFIX = "S#"
ITEM_PREFIX = "I#"
GLOBAL_TRENDING = "POP#global"
CATEGORY_PREFIX = "POP#C#"

# The kinds ``parse_list_key`` names.
USER, SESSION, ITEM_NEIGHBOURS, TRENDING, CATEGORY_TRENDING = (
    "user", "session", "item", "trending", "category")


def user_key(user_id: str) -> str:
    """``U#<user>``: a user's precomputed list and their realtime state."""
    return USER_PREFIX + user_id


def session_key(session_id: str) -> str:
    """``S#<session>``: an anonymous session's list and its realtime state."""
    return SESSION_PREFIX + session_id


def item_key(item_id: str) -> str:
    """``I#<item>``: the item's neighbours."""
    return ITEM_PREFIX + item_id


def category_key(category: str) -> str:
    """``POP#C#<category path>``: trending in one category, the path as the export names it."""
    return CATEGORY_PREFIX + category


# The attribute of a shopper's list row holding their nightly history (a JSON list of item
# ids), and its bound: 500 items of 256 four-byte characters would pass DynamoDB's 400 KB per
# item; ids past the bound are left out (a shopper's usual history is a few hundred bytes).
HISTORY = "history"
HISTORY_MAX_BYTES = 64_000

# The keys of a version's rows, kept beside them (the table has no index by version, and the
# rows must be found again to be deleted): chunk n of the list under ``KEYS#<n>``.
ROW_KEYS_PREFIX = "KEYS#"


def row_keys_key(chunk: int) -> str:
    """``KEYS#00000``: one chunk of the keys of a version's rows (``recs.batch.retire``)."""
    return f"{ROW_KEYS_PREFIX}{chunk:05d}"


def category_keys(category: str | None) -> list[str]:
    """``POP#C#a/b``, then ``POP#C#a``: a thin category falls back to its parent.

    Slashes at either end are ignored, so ``/a/b/`` reads the same lists as ``a/b``.
    """
    if not category:
        return []
    parts = category.strip("/").split("/")
    return [category_key("/".join(parts[:depth])) for depth in range(len(parts), 0, -1)]


def shopper_keys(user_id: str | None, session_id: str | None) -> list[str]:
    """The keys of a shopper: the user's, then the session's, each only when given."""
    keys = []
    if user_id:
        keys.append(USER_PREFIX + user_id)
    if session_id:
        keys.append(SESSION_PREFIX + session_id)
    return keys


def loggable_key(key: str) -> str:
    """A key as warning logs show it: a user's or session's id hashed
    (``recs.contracts.ids.log_id``), any other key (items, categories, catalog rows) as it is,
    since it names no shopper."""
    for prefix in (USER_PREFIX, SESSION_PREFIX):
        if key.startswith(prefix):
            return prefix + log_id(key[len(prefix):])
    return key


class ListKey(NamedTuple):
    """A parsed list key: its kind (``USER`` ... ``CATEGORY_TRENDING``) and the id in it
    ("" for ``POP#global``)."""

    kind: str
    id: str


# The prefixed kinds, longest prefix first (none is a prefix of another today).
_PREFIXED = ((CATEGORY_PREFIX, CATEGORY_TRENDING), (USER_PREFIX, USER),
             (SESSION_PREFIX, SESSION), (ITEM_PREFIX, ITEM_NEIGHBOURS))


def parse_list_key(key: str) -> ListKey:
    """The kind and id of a list or shopper key; ``ValueError`` for any other string."""
    if key == GLOBAL_TRENDING:
        return ListKey(TRENDING, "")
    for prefix, kind in _PREFIXED:
        if key.startswith(prefix):
            return ListKey(kind, key[len(prefix):])
    raise ValueError(f"not a recommendation list key: {key!r}")


def category_of(key: str) -> str:
    """The category path of a ``POP#C#`` key."""
    kind, category = parse_list_key(key)
    if kind != CATEGORY_TRENDING:
        raise ValueError(f"not a category trending key: {key!r}")
    return category


# -- realtime table: the catalog state rows ------------------------------------------------
# The unavailable items are a string set split over a fixed number of shard rows,
# ``CATALOG#UNAVAILABLE#0`` ... ``#3``, an item in the shard its id hashes to: one DynamoDB
# item holds at most 400 KB, and the read path fetches every shard in the BatchGetItem it
# makes anyway. The count is part of the contract: changing it moves items between rows.
UNAVAILABLE_PREFIX = "CATALOG#UNAVAILABLE#"
UNAVAILABLE_SHARDS = 4
NEW_ARRIVALS_KEY = "CATALOG#NEW"  # a JSON list of ``NewArrival`` lists


def unavailable_shard(item_id: str) -> int:
    """The shard of an item id: the first 4 bytes of its SHA-256, modulo the shard count
    (stable across processes and Python versions, unlike ``hash``)."""
    digest = hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % UNAVAILABLE_SHARDS


def unavailable_key(shard: int) -> str:
    """``CATALOG#UNAVAILABLE#<shard>``: one shard row of the unavailable items."""
    if not 0 <= shard < UNAVAILABLE_SHARDS:
        raise ValueError(f"no unavailable shard {shard} (there are {UNAVAILABLE_SHARDS})")
    return f"{UNAVAILABLE_PREFIX}{shard}"


UNAVAILABLE_KEYS = tuple(unavailable_key(shard) for shard in range(UNAVAILABLE_SHARDS))

# -- registry table ------------------------------------------------------------------------
MODEL_PARTITION = "MODEL"  # pk of every version record; the sk is the version
LIVE_POINTER = "LIVE"  # pk and sk of the live pointer


# -- experiments table ---------------------------------------------------------------------
# ``pk``/``sk``. Definitions: ``EXPERIMENT``/``<id>``. Live counts: each unit's totals in
# ``EXPERIMENT#<id>#UNITS#<shard>``/``<variant>#<unit>`` (the event ids it counted beside
# them), each variant's sums in ``EXPERIMENT#<id>#COUNTS``/``<variant>#<shard>``; both
# sharded by the unit's hash, so one busy experiment spreads its writes over partitions.
# The nightly recount: ``EXPERIMENT#<id>#EXACT``/``TOTAL`` and ``DAY#<yyyy-mm-dd>``.
EXPERIMENT_PARTITION = "EXPERIMENT"
EXPERIMENT_SHARDS = 16
EXACT_TOTAL = "TOTAL"
EXACT_DAY_PREFIX = "DAY#"


def experiment_shard(unit: str) -> int:
    """The shard of a unit id, stable across processes (the first 4 bytes of its SHA-256)."""
    digest = hashlib.sha256(unit.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % EXPERIMENT_SHARDS


def experiment_units_key(experiment_id: str, shard: int) -> str:
    return f"{EXPERIMENT_PARTITION}#{experiment_id}#UNITS#{shard}"


def experiment_unit_sort_key(variant: int, unit: str) -> str:
    return f"{variant}#{unit}"


def experiment_counts_key(experiment_id: str) -> str:
    return f"{EXPERIMENT_PARTITION}#{experiment_id}#COUNTS"


def experiment_exact_key(experiment_id: str) -> str:
    return f"{EXPERIMENT_PARTITION}#{experiment_id}#EXACT"


# -- operations rows (experiments table) ----------------------------------------------------
# The operator console's per-day counters (``recs.contracts.ops``), beside the experiments
# because ingest may already update that table and the admin function query it:
# ``OPS#HEALTH``/``DAY#<yyyy-mm-dd>`` (numbers ADDed by ingest and the lander) and
# ``OPS#ATTRIBUTION``/``DAY#<yyyy-mm-dd>`` (``cells``: a JSON list of ``TierCounts.row``,
# put whole by the nightly attribution step).
OPS_HEALTH = "OPS#HEALTH"
OPS_ATTRIBUTION = "OPS#ATTRIBUTION"
OPS_DAY_PREFIX = "DAY#"


def ops_day_key(day: str) -> str:
    """``DAY#2026-12-01``: the sort key of one day's operations row."""
    return OPS_DAY_PREFIX + day


# -- the stored list entry -----------------------------------------------------------------
class Entry(NamedTuple):
    """One recommendation in a stored list, in the order it is stored.

    ``because`` is the item that led to it (the shopper's item for a user's list, the source
    item of a neighbour list, None for trending); ``event`` the verb of the reason
    (``purchase``, ``similar``, ``trending``, ``new``, ...); ``category`` and ``title`` are
    the item's, ``because_title`` the title of ``because``. Unknown values are None.
    """

    item: str
    score: float
    because: str | None
    event: str
    category: str | None
    title: str | None
    because_title: str | None


# The ``event`` of an item-neighbour entry: shoppers had both items (the trained model's
# neighbours), or the catalog says they are alike (a new item's neighbours by title and
# category, ``recs.batch.cold_items``): the reasons differ, since no shopper made the second.
SIMILAR_EVENT = "similar"
CONTENT_EVENT = "alike"

# An ``Entry`` as ``json.loads`` returns it: a plain list with the same positions.
StoredEntry = list[Any]

# Positions of the fields in a stored entry, for the read path's lists.
ITEM, SCORE, BECAUSE, EVENT, CATEGORY, TITLE, BECAUSE_TITLE = (
    Entry._fields.index(name) for name in
    ("item", "score", "because", "event", "category", "title", "because_title"))


class NewArrival(NamedTuple):
    """One entry of the ``CATALOG#NEW`` row: an item created recently, newest first."""

    item: str
    created_at: int | None  # epoch ms
    category: str | None
    title: str | None


ARRIVAL_ITEM, ARRIVAL_CREATED_AT, ARRIVAL_CATEGORY, ARRIVAL_TITLE = (
    NewArrival._fields.index(name) for name in ("item", "created_at", "category", "title"))
