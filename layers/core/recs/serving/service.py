"""Recommendations for a request, filled tier by tier, filtered, never failing for want of data.

Tiers, best first: session (the shopper's last events x item neighbours, so an event changes
the very next answer), personalised (the nightly list), category trending, global trending;
a share of the slots goes to new arrivals. Filters drop what the shopper bought (outside
repeat-purchase categories), unavailable items, items shown many times without engagement,
and cap each category's share of a list. A request may instead leave out every item the
shopper interacted with (``exclude=seen``: their recent events and their nightly history, a
list of items new to them) or none of theirs (``exclude=none``), in every tier alike.

Round trips: the live pointer is cached; then one BatchGetItem over both tables (lists,
shopper state, catalog state) and, only when the shopper has recent events, a second for
those items' neighbours. A store that errors or times out counts as empty, and so does a
row that cannot be read. Each request waits at most ``RECS_READ_BUDGET_MS`` for its stores
in all (a ``Deadline`` taken at its start): a second round trip that no longer fits is
skipped, and the answer comes from the tiers already read.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from recs.contracts import keys
from recs.contracts.events import ENGAGED
from recs.contracts.ids import recommendation_id
from recs.contracts.keys import (
    ARRIVAL_CATEGORY,
    ARRIVAL_CREATED_AT,
    ARRIVAL_ITEM,
    ARRIVAL_TITLE,
    BECAUSE,
    BECAUSE_TITLE,
    CATEGORY,
    CONTENT_EVENT,
    EVENT,
    GLOBAL_TRENDING,
    ITEM,
    SCORE,
    TITLE,
    Entry,
    StoredEntry,
    category_keys,
)
from recs.contracts.routes import EXCLUDE_NONE, EXCLUDE_PURCHASED, EXCLUDE_SEEN
from recs.exceptions import StoreError
from recs.serving import reasons
from recs.serving.arms import Arms, Placement
from recs.serving.settings import ServingConfig
from recs.stores.ports import (
    CatalogState,
    Deadline,
    ExperimentStore,
    ModelRegistry,
    RealtimeState,
    ServingReader,
)

logger = logging.getLogger(__name__)

# What a registry read may raise: the store failing, or a record it cannot decode (a
# corrupt pointer must not turn every request into a 5xx; the cached pointer stays).
_UNREADABLE = (StoreError, ValueError, KeyError, TypeError)


@dataclass
class RecommendedItem:
    item_id: str
    score: float
    reason: str
    tier: str
    title: str | None = None
    category: str | None = None
    recommendation_id: str = ""


@dataclass
class RecommendationList:
    items: list[RecommendedItem]
    tiers: list[str]
    model_version: str | None
    recommendation_id: str = ""
    placement: Placement | None = None

    def __post_init__(self) -> None:
        arm = self.placement.arm if self.placement else None
        self.recommendation_id = self.recommendation_id or recommendation_id(
            self.model_version, arm)
        for item in self.items:
            item.recommendation_id = f"{self.recommendation_id}.{item.tier}"

    def to_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "recommendation_id": self.recommendation_id,
            "model_version": self.model_version,
            "tiers": self.tiers,
            "items": [item.__dict__ for item in self.items],
        }
        if self.placement:
            answer["experiment"] = {"id": self.placement.experiment["id"],
                                    "variant": self.placement.variant["name"]}
        return answer


# Entries are handled as ``json.loads`` returns them, lists read by position
# (``recs.contracts.keys``): an object per entry would cost more than the rest of the request.
# The entries the service makes itself are lists too, copied from a stored one or from this.
_NEW_ARRIVAL: StoredEntry = list(Entry(item="", score=0.0, because=None, event="new",
                                       category=None, title=None, because_title=None))


def reason_for(entry: StoredEntry) -> str:
    """"Because you bought Rice", or "Buy it again" when the item is its own reason."""
    if entry[BECAUSE] == entry[ITEM]:
        return reasons.again(entry[EVENT])
    return reasons.because(entry[EVENT], entry[BECAUSE_TITLE] or entry[BECAUSE] or "")


# The deepest category levels a request reads trending lists for (the category, then its
# parents): a 256-character path of one-letter levels would otherwise ask for 128 lists, past
# what one BatchGetItem takes (100 keys) with the shopper's and the catalog's rows.
MAX_CATEGORY_LEVELS = 8


def _category_keys(category: str | None) -> list[str]:
    """The category's trending keys, the category first, then at most 7 of its parents."""
    return category_keys(category)[:MAX_CATEGORY_LEVELS]


def in_category(item_category: str | None, wanted: str | None) -> bool:
    if not wanted:
        return True
    wanted = wanted.strip("/")
    return bool(item_category) and (
        item_category == wanted or item_category.startswith(wanted + "/"))  # type: ignore[union-attr]


class RecommendationService:
    def __init__(
        self,
        reader: ServingReader,
        registry: ModelRegistry,
        config: ServingConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        experiments: ExperimentStore | None = None,
    ) -> None:
        """``clock`` times the pointer's cache and each request's read budget, ``sleep`` its
        backoff: tests give a fake pair, so a brown-out's timing is exact however busy the
        machine. Without ``experiments`` no request is placed in an experiment."""
        self.reader = reader
        self.registry = registry
        self.config = config or ServingConfig()
        self.arms = Arms(experiments, self.config.pointer_ttl_s, clock) if experiments else None
        self.clock = clock
        self.sleep = sleep
        self._live: str | None = None
        self._live_read_at = float("-inf")

    # -- the live model pointer -------------------------------------------------------------
    def live_version(self) -> str | None:
        now = self.clock()
        if now - self._live_read_at >= self.config.pointer_ttl_s:
            try:
                self._live = self.registry.live_version()
                self._live_read_at = now
            except _UNREADABLE as exc:
                logger.warning("live pointer unavailable, keeping %s: %s", self._live, exc)
        return self._live

    def _deadline(self) -> Deadline:
        return Deadline.after(self.config.read_budget_s, self.clock, self.sleep)

    def _read(
        self, deadline: Deadline, list_keys: Sequence[str], version: str | None,
        shoppers: Sequence[str] = (), catalog: bool = False, history: bool = False,
    ) -> tuple[dict[str, list[StoredEntry]], dict[str, RealtimeState], CatalogState]:
        try:
            lists, states, state = self.reader.read(list_keys, version, shoppers, catalog,
                                                    deadline, history=history)
        except StoreError as exc:
            logger.warning("serving stores unavailable, falling back: %s", exc)
            return {}, {}, CatalogState()
        return lists, states, state or CatalogState()

    # -- routes -----------------------------------------------------------------------------
    def for_user(
        self, user_id: str | None, session_id: str | None, num_items: int,
        category: str | None = None, exclude: str = EXCLUDE_PURCHASED,
    ) -> RecommendationList:
        """``exclude`` (``recs.contracts.routes.EXCLUDE``): which of the shopper's own items
        no tier may recommend."""
        if exclude not in (EXCLUDE_PURCHASED, EXCLUDE_SEEN, EXCLUDE_NONE):
            raise ValueError(f"exclude: unknown value {exclude!r}")
        placement = self._place("recommendations", user_id, session_id)
        if placement and placement.control:  # the control arm: non-personalised trending
            return self._served(self._trending(category, num_items, self.live_version()),
                                placement)
        return self._served(self._for_user(user_id, session_id, num_items, category,
                                           self._version(placement), self._config(placement),
                                           exclude),
                            placement)

    def similar(self, item_id: str, num_items: int, user_id: str | None = None,
                session_id: str | None = None) -> RecommendationList:
        placement = self._place("similar", user_id, session_id)
        if placement and placement.control:
            return self._served(self._trending(None, num_items, self.live_version()),
                                placement)
        return self._served(self._similar(item_id, num_items, self._version(placement)),
                            placement)

    def trending(self, category: str | None, num_items: int, user_id: str | None = None,
                 session_id: str | None = None) -> RecommendationList:
        placement = self._place("trending", user_id, session_id)
        return self._served(self._trending(category, num_items, self._version(placement)),
                            placement)

    # -- experiments ------------------------------------------------------------------------
    def _place(self, surface: str, user_id: str | None,
               session_id: str | None) -> Placement | None:
        return self.arms.place(surface, user_id, session_id) if self.arms else None

    def _version(self, placement: Placement | None) -> str | None:
        """The variant's model version, or the live one."""
        if placement and placement.variant.get("model_version"):
            return placement.variant["model_version"]
        return self.live_version()

    def _config(self, placement: Placement | None) -> ServingConfig:
        """The function's settings with the variant's over them."""
        if placement and placement.variant.get("settings"):
            return replace(self.config, **placement.variant["settings"])  # type: ignore[arg-type]
        return self.config

    def _served(self, answer: RecommendationList,
                placement: Placement | None) -> RecommendationList:
        """The answer in its arm (its ids carry it), its exposure counted."""
        if placement and self.arms:
            answer = RecommendationList(answer.items, answer.tiers, answer.model_version,
                                        placement=placement)
            self.arms.expose(placement)
        return answer

    # -- lists ------------------------------------------------------------------------------
    def _for_user(
        self, user_id: str | None, session_id: str | None, num_items: int,
        category: str | None, version: str | None, config: ServingConfig,
        exclude: str = EXCLUDE_PURCHASED,
    ) -> RecommendationList:
        deadline = self._deadline()
        shoppers = keys.shopper_keys(user_id, session_id)
        popular = [*_category_keys(category), GLOBAL_TRENDING]
        lists, states, catalog = self._read(deadline, shoppers + popular, version, shoppers,
                                            catalog=True, history=exclude == EXCLUDE_SEEN)
        # An event sent with both ids is in the user's state and the session's: once here.
        recent = sorted({e for s in states.values() for e in s.recent}, key=lambda e: (e[2], e))
        personal = [e for k in shoppers for e in lists.get(k, [])]

        # A shopper who asked for a category gets that category: no diversity cap then.
        builder = _Builder(num_items, None if category else config.max_per_category,
                           category, exclude=catalog.unavailable
                           | self._theirs(exclude, recent, states, personal, lists)
                           | self._overshown(states, recent))
        session = self._session(deadline, recent, version, 3 * num_items + 10,
                                drop_sources=exclude != EXCLUDE_NONE)
        # New arrivals and the long tail take their share first (so neither the list nor a
        # category's cap is already full), and are shown after the ranked items.
        quota = int(num_items * config.new_arrival_share)
        if quota and catalog.new_arrivals:
            relevant = {e[CATEGORY] for e in session + personal}
            for arrival in sorted(catalog.new_arrivals, key=lambda a: (
                    a[ARRIVAL_CATEGORY] not in relevant, -(a[ARRIVAL_CREATED_AT] or 0))):
                if builder.tail_size >= quota:
                    break
                entry = _NEW_ARRIVAL.copy()
                entry[ITEM] = arrival[ARRIVAL_ITEM]
                entry[CATEGORY] = arrival[ARRIVAL_CATEGORY]
                entry[TITLE] = arrival[ARRIVAL_TITLE]
                builder.add(entry, reasons.new_arrival(entry[CATEGORY]), "new_arrival",
                            tail=True)
        # The long tail: a slot for a relevant item the list would not reach (ranked below
        # it) and that is not among the bestsellers, so less popular inventory gets seen too.
        tail_quota = builder.tail_size + int(num_items * config.long_tail_share)
        if tail_quota > builder.tail_size:
            popular_items = {e[ITEM] for e in lists.get(GLOBAL_TRENDING, [])}
            for entries in (session, personal):
                for entry in entries[num_items:]:
                    if builder.tail_size >= tail_quota:
                        break
                    if entry[ITEM] not in popular_items:
                        builder.add(entry, reason_for(entry), "long_tail", tail=True)
        for tier, entries in (("session", session), ("personalised", personal)):
            for entry in entries:
                if builder.full:
                    break
                builder.add(entry, reason_for(entry), tier)
        self._add_trending(builder, lists, popular)
        return builder.result(version)

    def _similar(self, item_id: str, num_items: int, version: str | None) -> RecommendationList:
        deadline = self._deadline()
        neighbours = keys.item_key(item_id)
        lists, _, catalog = self._read(deadline, [neighbours, GLOBAL_TRENDING], version,
                                       catalog=True)
        builder = _Builder(num_items, max_per_category=None, category=None,
                           exclude=catalog.unavailable | {item_id})
        for entry in lists.get(neighbours, []):
            if builder.full:
                break
            title = entry[BECAUSE_TITLE] or item_id
            builder.add(entry, reasons.alike(title) if entry[EVENT] == CONTENT_EVENT
                        else reasons.similar_to(title), "similar")
        self._add_trending(builder, lists, [GLOBAL_TRENDING])
        return builder.result(version)

    def _trending(self, category: str | None, num_items: int,
                  version: str | None) -> RecommendationList:
        deadline = self._deadline()
        popular = [*_category_keys(category), GLOBAL_TRENDING]
        lists, _, catalog = self._read(deadline, popular, version, catalog=True)
        builder = _Builder(num_items, max_per_category=None, category=None,
                           exclude=catalog.unavailable)
        self._add_trending(builder, lists, popular)
        return builder.result(version)

    # -- tiers ------------------------------------------------------------------------------
    def _session(self, deadline: Deadline, recent: list[tuple[str, str, int]],
                 version: str | None, limit: int,
                 drop_sources: bool = True) -> list[StoredEntry]:
        """Neighbours of the shopper's latest items, newer and stronger events weighing more;
        the items it starts from are among them only without ``drop_sources``."""
        if not recent or not version:
            return []
        weights: dict[str, tuple[float, str]] = {}
        for rank, (item, event, _) in enumerate(reversed(recent)):
            weight = max(self.config.event_weights.get(event, 0.0), 0.0) * (
                self.config.session_decay ** rank)
            if weight > 0 and (item not in weights or weights[item][0] < weight):
                weights[item] = (weight, event)
            if len(weights) >= self.config.session_items:
                break
        if not weights:
            return []
        lists, _, _ = self._read(deadline, [keys.item_key(item) for item in weights], version)
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, StoredEntry, str]] = {}
        for source, (weight, event) in weights.items():
            for entry in lists.get(keys.item_key(source), [])[: self.config.session_neighbours]:
                item = entry[ITEM]
                contribution = weight * entry[SCORE]
                scores[item] = scores.get(item, 0.0) + contribution
                if item not in best or best[item][0] < contribution:
                    best[item] = (contribution, entry, event)
        if drop_sources:
            for item in weights:
                scores.pop(item, None)
        ranked = heapq.nsmallest(limit, scores, key=lambda i: (-scores[i], i))
        session = []
        for item in ranked:
            # The strongest neighbour entry (its item, titles and "because"), re-scored.
            entry = best[item][1].copy()
            entry[SCORE] = round(scores[item], 4)
            entry[EVENT] = best[item][2]
            session.append(entry)
        return session

    def _theirs(self, exclude: str, recent: list[tuple[str, str, int]],
                states: dict[str, RealtimeState], personal: list[StoredEntry],
                lists: dict[str, list[StoredEntry]]) -> set[str]:
        """The shopper's own items the request leaves out.

        ``seen``: every item of their recent events and of their nightly history (their list
        row's ``history``; the entries that name themselves as their reason, repeats, for a
        row written without one). ``purchased``: what they bought recently, outside
        repeat-purchase categories (the nightly list already left out what they bought
        before). ``none``: nothing."""
        if exclude == EXCLUDE_NONE:
            return set()
        if exclude == EXCLUDE_PURCHASED:
            return self._bought(recent, lists)
        seen = {item for item, _, _ in recent}
        for state in states.values():
            seen.update(state.history)
        seen.update(e[ITEM] for e in personal if e[BECAUSE] == e[ITEM])
        return seen

    def _bought(self, recent: Iterable[tuple[str, str, int]],
                lists: dict[str, list[StoredEntry]]) -> set[str]:
        bought = {item for item, event, _ in recent if event == "purchase"}
        if not bought or not self.config.repeat_purchase_categories:
            return bought
        categories = {e[ITEM]: e[CATEGORY] for entries in lists.values() for e in entries
                      if e[ITEM] in bought}
        return {item for item in bought
                if not self.config.is_repeat_purchase(categories.get(item))}

    def _overshown(self, states: dict[str, RealtimeState],
                   recent: list[tuple[str, str, int]]) -> set[str]:
        """Items shown ``max_impressions`` times without engagement. The user's state holds
        the impressions of all their sessions, the session's those of this one: the larger
        count of each item, not their sum, so an impression sent with both ids counts once."""
        engaged = {item for item, event, _ in recent if event in ENGAGED}
        counts: dict[str, int] = {}
        for state in states.values():
            mine: dict[str, int] = {}
            for item in state.shown:
                mine[item] = mine.get(item, 0) + 1
            for item, n in mine.items():
                counts[item] = max(counts.get(item, 0), n)
        return {item for item, n in counts.items()
                if n >= self.config.max_impressions and item not in engaged}

    def _add_trending(self, builder: _Builder, lists: dict[str, list[StoredEntry]],
                      popular: Sequence[str]) -> None:
        for key in popular:
            if key == GLOBAL_TRENDING:
                tier, reason = "trending", reasons.trending()
            else:
                tier, reason = "category_trending", reasons.trending(keys.category_of(key))
            for entry in lists.get(key, []):
                if builder.full:
                    return
                builder.add(entry, reason, tier)

    def status(self) -> dict[str, Any]:
        try:
            live = self.registry.live_version()
            versions = self.registry.list_versions()
        except _UNREADABLE as exc:
            logger.warning("registry unavailable: %s", exc)
            return {"live_version": self._live, "live": None, "recent": [],
                    "error": "model registry unavailable"}
        recent = sorted(versions, key=lambda v: v.version, reverse=True)[:10]
        record = next((v for v in versions if v.version == live), None)
        return {
            "live_version": live,
            "live": record.to_dict() if record else None,
            "recent": [
                {"version": v.version, "status": v.status, "created_at": v.created_at,
                 "reason": v.reason, "metrics": v.metrics}
                for v in recent
            ],
        }


class _Builder:
    """Collects items tier by tier: no duplicates, no excluded items, a cap per category."""

    def __init__(self, size: int, max_per_category: int | None, category: str | None,
                 exclude: set[str] | None = None) -> None:
        self.size = size
        self.max_per_category = max_per_category
        self.category = category
        self.items: list[RecommendedItem] = []
        self.seen: set[str] = set(exclude or ())
        self.per_category: dict[str, int] = {}
        self.tiers: list[str] = []
        self.tail: list[RecommendedItem] = []

    @property
    def full(self) -> bool:
        return len(self.items) + len(self.tail) >= self.size

    @property
    def tail_size(self) -> int:
        return len(self.tail)

    def add(self, entry: StoredEntry, reason: str, tier: str, tail: bool = False) -> None:
        """Add unless full, seen, excluded, off-category or over its category's cap;
        ``tail`` items go after the ranked ones."""
        item_id, category = entry[ITEM], entry[CATEGORY]
        if self.full or item_id in self.seen:
            return
        if self.category and not in_category(category, self.category):
            return
        if category and self.max_per_category is not None:
            count = self.per_category.get(category, 0)
            if count >= self.max_per_category:
                return
            self.per_category[category] = count + 1
        self.seen.add(item_id)
        (self.tail if tail else self.items).append(RecommendedItem(
            item_id, float(entry[SCORE] or 0.0), reason, tier, entry[TITLE], category))

    def result(self, version: str | None) -> RecommendationList:
        items = self.items + self.tail
        tiers = list(dict.fromkeys(item.tier for item in items))
        return RecommendationList(items, tiers, version)
