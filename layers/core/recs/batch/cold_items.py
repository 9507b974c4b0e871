"""Neighbours for the catalog's new items, from what the catalog says of them.

An item nobody has interacted with yet has no column in the model, so it has no ``I#`` row:
its product page's "similar items" would fall through to trending. Its catalog entry is
there from the first minute, so each available catalog item the model did not train on gets
a row of its most alike available catalog items by content (``recs.algorithms.content``:
title words, TF-IDF weighted, and category path; the snapshot keeps no price or brand).
Its entries say ``CONTENT_EVENT``, not ``SIMILAR_EVENT``: no shopper connected the two, and
the reason shown must not claim one did. The next night that trains on the item replaces
the row with the model's own neighbours.

Only the new items' rows of the product are computed, never the whole catalog's square: at
most ``k`` neighbours for each of them, a block of them at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from recs.algorithms import content
from recs.algorithms.knn import blocked_topk_product
from recs.contracts import keys
from recs.contracts.items import ItemFacts
from recs.contracts.rows import RecRow

# Neighbours kept per new item: as many as the API's largest "similar items" answer.
NEIGHBOURS = 50


def new_items(trained: Sequence[str], catalog: Mapping[str, Sequence[Any]]) -> list[str]:
    """Available catalog items the model has no column for, in id order."""
    known = set(trained)
    return sorted(item for item, facts in catalog.items()
                  if item not in known and ItemFacts._make(facts).available is not False)


def content_rows(trained: Sequence[str], catalog: Mapping[str, Sequence[Any]], version: str,
                 k: int, expires_at: int = 0) -> Iterator[RecRow]:
    """``I#<item>`` rows of every new item that has at least one alike available item.

    ``catalog`` is the weight step's snapshot (``{item: ItemFacts as a list}``). The new
    items come first in the content index, so the product's row ``i`` is catalog item ``i``
    and ``blocked_topk_product`` leaves each item out of its own list."""
    fresh = new_items(trained, catalog)
    if not fresh or k < 1:
        return
    fresh_set = set(fresh)
    others = sorted(item for item, facts in catalog.items()
                    if item not in fresh_set and ItemFacts._make(facts).available is not False)
    ids = fresh + others
    facts = [ItemFacts._make(catalog[item]) for item in ids]
    features = content.item_features([f.title for f in facts], [f.category for f in facts])
    if features.shape[1] == 0:
        return
    similar = blocked_topk_product(features[:len(fresh)], features.T.tocsr(), k)
    for row, item in enumerate(fresh):
        start, stop = similar.indptr[row], similar.indptr[row + 1]
        if stop == start:
            continue
        columns, scores = similar.indices[start:stop], similar.data[start:stop]
        order = np.lexsort((columns, -scores))  # best first, ties by index (as export_rows)
        own = facts[row]
        yield RecRow(keys.item_key(item), version, [
            list(keys.Entry(ids[c], round(float(s), 4), item, keys.CONTENT_EVENT,
                            facts[c].category, facts[c].title, own.title))
            for c, s in zip(columns[order].tolist(), scores[order].tolist(), strict=True)
        ], expires_at)
