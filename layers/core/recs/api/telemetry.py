"""The figures a request leaves behind, derived from what it answered, and their publishing.

Deriving is pure (an answer or an ingest result in, ``Datum`` tuples out), so what a metric
means is tested without Powertools; ``publish`` hands the tuples to a Powertools ``Metrics``
(embedded metric format: log lines, no API call). Names, dimensions and what they mean are
in ``recs.contracts.metrics``.

An EMF document carries one set of dimension values, so figures are grouped by their
dimensions and each group is flushed as its own document: a list answer costs one line for
the route, one for its first tier, one per tier served and one for its model version.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from recs.contracts import metrics as m
from recs.contracts.ids import parse_recommendation_id

logger = logging.getLogger(__name__)

COUNT = "Count"  # CloudWatch units, as Powertools' MetricUnit spells them
MILLISECONDS = "Milliseconds"

Dimensions = tuple[tuple[str, str], ...]


class Datum(NamedTuple):
    name: str
    dimensions: Dimensions  # on top of ``service``, which Powertools adds
    value: float
    unit: str


# recs.contracts.ids.model_version: the day and ten hex digits. Anything else in a shop's
# recommendation id would open a new metric per value (each one billed), so it counts as
# ``other``.
_VERSION = re.compile(r"[0-9]{8}-[0-9a-f]{10}")
_TIERS = frozenset(m.TIERS)
_PERSONAL = frozenset(m.PERSONAL_TIERS)


def _version(value: str | None) -> str:
    if not value or value == m.NO_VERSION:
        return m.NO_VERSION
    return value if _VERSION.fullmatch(value) else m.OTHER


def _tier(value: str | None) -> str:
    return value if value in _TIERS else m.OTHER


def answer_data(route: str, answer: Mapping[str, Any], shopper: bool) -> list[Datum]:
    """What a list answer (``RecommendationList.to_dict``) of ``route`` counts toward.

    ``shopper``: the request named a user or a session, so an answer without their own
    tiers is a fallback. Only ``recommendations`` reports fallbacks: trending is meant for
    everybody and similar items answer an item, not a shopper.
    """
    items = answer.get("items") or []
    tiers = answer.get("tiers") or []
    at = ((m.ROUTE, route),)
    data = [
        Datum(m.REQUESTS, ((m.ROUTE, route), (m.TIER, tiers[0] if tiers else m.NO_TIER)),
              1, COUNT),
        Datum(m.EMPTY_ANSWERS, at, 0 if items else 1, COUNT),
    ]
    experiment = answer.get("experiment")
    if route == "recommendations" and shopper and not experiment:
        personal = any(item.get("tier") in _PERSONAL for item in items)
        data.append(Datum(m.FALLBACK, at, 0 if personal else 1, COUNT))
    for tier, served in Counter(item.get("tier") for item in items).items():
        data.append(Datum(m.SERVED_ITEMS, ((m.TIER, _tier(tier)),), served, COUNT))
    if items:
        data.append(Datum(m.SERVED_ITEMS, ((m.MODEL_VERSION, _version(answer.get(
            "model_version"))),), len(items), COUNT))
    if experiment:
        arm = parse_recommendation_id(str(answer.get("recommendation_id") or "")).arm
        if arm is not None:  # the variant's position, as ingest sees it in clicks
            data.append(Datum(m.EXPOSURES, ((m.EXPERIMENT, arm.experiment),
                                            (m.VARIANT, str(arm.variant))), 1, COUNT))
    return data


def latency(route: str, milliseconds: float) -> Datum:
    return Datum(m.LATENCY, ((m.ROUTE, route),), round(milliseconds, 3), MILLISECONDS)


def ingest_data(accepted: int, rejected: int, duplicates: int,
                stored: Iterable[Mapping[str, Any]]) -> list[Datum]:
    """What a POST /events counts toward: its tallies, and the stored events (those the
    queue took, each once) that name the recommendation they follow.

    An event's tier and model version are read from its recommendation id; a click whose
    id names an experiment arm counts for that arm, by the variant's position (the id
    carries no name, and ingest reads no experiment definition).
    """
    data = [Datum(m.EVENTS_ACCEPTED, (), accepted, COUNT),
            Datum(m.EVENTS_REJECTED, (), rejected, COUNT),
            Datum(m.EVENTS_DUPLICATE, (), duplicates, COUNT)]
    by_tier: Counter[Dimensions] = Counter()
    by_version: Counter[Dimensions] = Counter()
    clicks: Counter[Dimensions] = Counter()
    for event in stored:
        rid = event.get("recommendation_id")
        if not rid:
            continue
        ref = parse_recommendation_id(rid)
        kind = (m.EVENT_TYPE, str(event["event_type"]))
        by_tier[(kind, (m.TIER, _tier(ref.tier)))] += 1
        by_version[(kind, (m.MODEL_VERSION, _version(ref.version)))] += 1
        if ref.arm is not None and event["event_type"] == "click":
            clicks[((m.EXPERIMENT, ref.arm.experiment), (m.VARIANT, str(ref.arm.variant)))] += 1
    for counter, name in ((by_tier, m.ATTRIBUTED_EVENTS), (by_version, m.ATTRIBUTED_EVENTS),
                          (clicks, m.CLICKS)):
        data.extend(Datum(name, dimensions, n, COUNT) for dimensions, n in counter.items())
    return data


class Sink(Protocol):
    """What ``publish`` needs of Powertools ``Metrics``."""

    def add_dimension(self, name: str, value: str) -> None: ...

    def add_metric(self, name: str, unit: str, value: float) -> None: ...

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...

    def clear_metrics(self) -> None: ...


# Powertools keeps one metric set per process; the local server calls handlers from threads.
_publishing = threading.Lock()


def publish(sink: Sink, data: Iterable[Datum]) -> int:
    """Flush ``data`` as one EMF document per set of dimensions; the number of documents.

    A figure that cannot be published is logged and dropped: it never fails the answer.
    """
    groups: dict[Dimensions, list[Datum]] = {}
    for datum in data:
        groups.setdefault(datum.dimensions, []).append(datum)
    with _publishing:
        try:
            for dimensions, group in groups.items():
                for name, value in dimensions:
                    sink.add_dimension(name, value)
                for datum in group:
                    sink.add_metric(datum.name, datum.unit, datum.value)
                sink.flush_metrics()
                # Flushing clears, except with POWERTOOLS_METRICS_DISABLED (the local cloud):
                # then the figures would pile up in memory, request after request.
                if getattr(sink, "metric_set", None):
                    sink.clear_metrics()
        except Exception as exc:  # a metric is worth less than the answer it describes
            logger.warning("metrics not published: %s: %s", type(exc).__name__, exc)
            sink.clear_metrics()  # nothing half-added rides on the next request's figures
            return 0
    return len(groups)


class Recorder:
    """One invocation's figures: the route notes its answer, the Lambda handler publishes
    them with the time the request took (per thread, as the local server runs handlers)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def answer(self, route: str, answer: Mapping[str, Any], shopper: bool) -> None:
        self._local.route = route
        self._local.data = answer_data(route, answer, shopper)

    def publish(self, sink: Sink, milliseconds: float) -> int:
        """Publish what the route noted and its latency; nothing when no route noted any
        (a refused request, model status, Swagger)."""
        route = getattr(self._local, "route", None)
        if route is None:
            return 0
        data = [*self._local.data, latency(route, milliseconds)]
        self._local.route, self._local.data = None, []
        return publish(sink, data)
