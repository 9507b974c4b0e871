"""The CloudWatch metrics the functions emit (embedded metric format) and the CDK app reads.

Emitted through Powertools Metrics: one log line per invocation, no CloudWatch API call on
any path. Every metric carries the ``service`` dimension (``resources.SERVICE``); the
dimensions named here come on top. The CDK app's alarms and dashboard take the names from
here, so a renamed metric cannot leave an alarm watching nothing.
"""

from __future__ import annotations

from recs.contracts.resources import (
    METRICS_NAMESPACE,
    MODEL_PROMOTED_METRIC,
    UNREADABLE_INPUTS_METRIC,
)

NAMESPACE = METRICS_NAMESPACE

# -- the read path (the API function), per request -------------------------------------------
REQUESTS = "Requests"  # dimensions: route (the operationId), tier (the answer's first tier)
FALLBACK = "Fallback"  # 1 when a shopper's answer came from trending tiers only, else 0
EMPTY_ANSWERS = "EmptyAnswers"  # 1 when an answer holds no item, else 0
LATENCY = "Latency"  # milliseconds in the handler; dimension route
SERVED_ITEMS = "ServedItems"  # items answered; dimensions tier, model_version

# -- ingest, per request -------------------------------------------------------------------
EVENTS_ACCEPTED = "EventsAccepted"
EVENTS_REJECTED = "EventsRejected"
EVENTS_DUPLICATE = "EventsDuplicate"
ATTRIBUTED_EVENTS = "AttributedEvents"  # events carrying a recommendation id; dimensions
# event_type, tier, model_version

# -- experiments ---------------------------------------------------------------------------
EXPOSURES = "ExperimentExposures"  # served lists and impressions; dimensions experiment, variant
CLICKS = "ExperimentClicks"  # dimensions experiment, variant

# -- the nightly batch ---------------------------------------------------------------------
UNREADABLE_INPUTS = UNREADABLE_INPUTS_METRIC
MODEL_PROMOTED = MODEL_PROMOTED_METRIC
# Yesterday's click-through rate of recommended items against the seven days before it, in
# percent (-5 means 5 % lower); from the impressions and clicks in the lake that carry a
# recommendation id.
LIVE_CTR_CHANGE = "LiveCtrChange"
