"""The CloudWatch metrics the functions emit (embedded metric format) and the CDK app reads.

Emitted through Powertools Metrics: a few log lines per invocation, no CloudWatch API call on
any path. Every metric carries the ``service`` dimension (``resources.SERVICE``); the
dimensions named here come on top, and each metric is published under exactly the
dimension set written beside it (CloudWatch aggregates over no dimension it was not sent
without, so a chart or an alarm must name the same set). The CDK app's alarms and
dashboard take the names from here, so a renamed metric cannot leave an alarm watching
nothing; ``recs.api.telemetry`` derives the values.
"""

from __future__ import annotations

from recs.contracts.resources import (
    METRICS_NAMESPACE,
    MODEL_PROMOTED_METRIC,
    SERVICE,
    UNREADABLE_INPUTS_METRIC,
)

NAMESPACE = METRICS_NAMESPACE
SERVICE_DIMENSION = "service"  # Powertools adds it to every metric, value SERVICE
SERVICE_NAME = SERVICE

# -- dimension names and the values standing in for a missing one --------------------------
ROUTE = "route"  # the route's operationId in recs.contracts.routes: recommendations, ...
TIER = "tier"
MODEL_VERSION = "model_version"
EVENT_TYPE = "event_type"
EXPERIMENT = "experiment"
VARIANT = "variant"  # the variant's POSITION in the experiment's variants, as text
NO_TIER = "empty"  # the tier of an answer without items
NO_VERSION = "none"  # no model yet, as recommendation ids say it
OTHER = "other"  # a tier or model version in a shop's recommendation id that is not one

# The tiers an answer's items come from (the ``tiers`` enum of the answer schema in
# recs.contracts.routes; a test holds the two equal). The dashboard charts each one.
TIERS = ("session", "personalised", "new_arrival", "long_tail", "similar",
         "category_trending", "trending")
# Tiers built from the shopper's own history: an answer for a known shopper with none of
# them fell back to what everybody gets (trending, new arrivals).
PERSONAL_TIERS = ("session", "personalised", "long_tail")

# -- the read path (the API function), per request of the list routes ------------------------
REQUESTS = "Requests"  # count 1; dimensions route, tier (the answer's first tier or NO_TIER)
FALLBACK = "Fallback"  # 1/0, dimension route (recommendations only): a known shopper's
# answer with no item from PERSONAL_TIERS; not sent for anonymous requests nor answers in an
# experiment (the control arm serves trending by design). Its Average is the fallback share.
EMPTY_ANSWERS = "EmptyAnswers"  # 1/0, dimension route: the answer holds no item
LATENCY = "Latency"  # milliseconds in the handler, dimension route
SERVED_ITEMS = "ServedItems"  # items answered, twice: dimension tier (one per tier of the
# answer) and dimension model_version (all of the answer's items)

# -- ingest, per POST /events ----------------------------------------------------------------
EVENTS_ACCEPTED = "EventsAccepted"  # no dimension: IngestResult.accepted
EVENTS_REJECTED = "EventsRejected"  # no dimension
EVENTS_DUPLICATE = "EventsDuplicate"  # no dimension: repeated event ids within the request
ATTRIBUTED_EVENTS = "AttributedEvents"  # stored events carrying a recommendation id, twice:
# dimensions event_type + tier, and event_type + model_version (as the id names them)

# -- experiments -----------------------------------------------------------------------------
EXPOSURES = "ExperimentExposures"  # lists served in an arm (API); dimensions experiment,
# variant (position, read from the answer's recommendation id)
CLICKS = "ExperimentClicks"  # click events whose recommendation id names an arm (ingest);
# dimensions experiment, variant (position: ingest reads no experiment definition)

# -- the nightly batch -----------------------------------------------------------------------
UNREADABLE_INPUTS = UNREADABLE_INPUTS_METRIC
MODEL_PROMOTED = MODEL_PROMOTED_METRIC
# Yesterday's click-through rate of recommended items against the seven days before it, in
# percent (-5 means 5 % lower); from the impressions and clicks in the lake that carry a
# recommendation id. Emitted once per nightly run by the attribution step, service only.
LIVE_CTR_CHANGE = "LiveCtrChange"
