"""Recommendations for a request, filled tier by tier, never failing for want of data.

Tiers: personalised (the user's or session's precomputed list), then category trending, then
global trending. Reads are one batch get per request after the live version pointer, which is
cached for ``pointer_ttl_s``. A store that errors or times out is treated as empty, so the
shopper gets trending items instead of an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from recs.exceptions import StoreError
from recs.ids import recommendation_id
from recs.serving import reasons
from recs.stores.ports import ModelRegistry, RecommendationStore

logger = logging.getLogger(__name__)

GLOBAL_TRENDING = "POP#global"


@dataclass
class RecommendedItem:
    item_id: str
    score: float
    reason: str
    tier: str


@dataclass
class RecommendationList:
    items: list[RecommendedItem]
    tiers: list[str]
    model_version: str | None
    recommendation_id: str = field(default_factory=recommendation_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendation_id": self.recommendation_id,
            "model_version": self.model_version,
            "tiers": self.tiers,
            "items": [item.__dict__ for item in self.items],
        }


def category_keys(category: str | None) -> list[str]:
    """``POP#C#a/b``, then ``POP#C#a``: a thin category falls back to its parent."""
    if not category:
        return []
    parts = category.strip("/").split("/")
    return [f"POP#C#{'/'.join(parts[:depth])}" for depth in range(len(parts), 0, -1)]


class RecommendationService:
    def __init__(
        self,
        recommendations: RecommendationStore,
        registry: ModelRegistry,
        pointer_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recommendations = recommendations
        self.registry = registry
        self.pointer_ttl_s = pointer_ttl_s
        self.clock = clock
        self._live: str | None = None
        self._live_read_at = float("-inf")

    # -- the live model pointer -------------------------------------------------------------
    def live_version(self) -> str | None:
        now = self.clock()
        if now - self._live_read_at >= self.pointer_ttl_s:
            try:
                self._live = self.registry.live_version()
                self._live_read_at = now
            except StoreError as exc:
                logger.warning("live pointer unavailable, keeping %s: %s", self._live, exc)
        return self._live

    def _lists(self, keys: Sequence[str], version: str | None) -> dict[str, list[list[Any]]]:
        if version is None:
            return {}
        try:
            return self.recommendations.get_many(keys, version)
        except StoreError as exc:
            logger.warning("recommendation lists unavailable, falling back: %s", exc)
            return {}

    # -- routes -----------------------------------------------------------------------------
    def for_user(
        self, user_id: str | None, session_id: str | None, num_items: int,
        category: str | None = None,
    ) -> RecommendationList:
        version = self.live_version()
        personal = ([f"U#{user_id}"] if user_id else []) + (
            [f"S#{session_id}"] if session_id else []
        )
        popular = [*category_keys(category), GLOBAL_TRENDING]
        lists = self._lists(personal + popular, version)
        builder = _Builder(num_items)
        for key in personal:
            for item_id, score, because_item, event in lists.get(key, []):
                builder.add(item_id, score, reasons.because(event, because_item), "personalised")
        self._add_trending(builder, lists, popular)
        return builder.result(version)

    def similar(self, item_id: str, num_items: int) -> RecommendationList:
        version = self.live_version()
        lists = self._lists([f"I#{item_id}", GLOBAL_TRENDING], version)
        builder = _Builder(num_items, exclude={item_id})
        for neighbour, score, _, _ in lists.get(f"I#{item_id}", []):
            builder.add(neighbour, score, reasons.similar_to(item_id), "similar")
        self._add_trending(builder, lists, [GLOBAL_TRENDING])
        return builder.result(version)

    def trending(self, category: str | None, num_items: int) -> RecommendationList:
        version = self.live_version()
        keys = [*category_keys(category), GLOBAL_TRENDING]
        builder = _Builder(num_items)
        self._add_trending(builder, self._lists(keys, version), keys)
        return builder.result(version)

    def _add_trending(
        self, builder: _Builder, lists: dict[str, list[list[Any]]], keys: Sequence[str]
    ) -> None:
        for key in keys:
            if builder.full:
                return
            if key == GLOBAL_TRENDING:
                tier, reason = "trending", reasons.trending()
            else:
                category = key[len("POP#C#"):]
                tier, reason = "category_trending", reasons.trending(category)
            for item_id, score, _, _ in lists.get(key, []):
                builder.add(item_id, score, reason, tier)

    def status(self) -> dict[str, Any]:
        try:
            live = self.registry.live_version()
            versions = self.registry.list_versions()
        except StoreError as exc:
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
    """Collects items tier by tier, skipping duplicates, until the list is full."""

    def __init__(self, size: int, exclude: set[str] | None = None) -> None:
        self.size = size
        self.items: list[RecommendedItem] = []
        self.seen: set[str] = set(exclude or ())
        self.tiers: list[str] = []

    @property
    def full(self) -> bool:
        return len(self.items) >= self.size

    def add(self, item_id: str, score: float, reason: str, tier: str) -> None:
        if self.full or item_id in self.seen:
            return
        self.seen.add(item_id)
        self.items.append(RecommendedItem(item_id, float(score), reason, tier))
        if tier not in self.tiers:
            self.tiers.append(tier)

    def result(self, version: str | None) -> RecommendationList:
        return RecommendationList(self.items, self.tiers, version)
