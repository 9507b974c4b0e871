"""What each function may touch, in one place: DynamoDB actions per table, S3 prefixes, the
queue. ``infra/stack.py`` grants exactly this and nothing else.

Each table is the function's code read as permissions: ``functions/<name>.py`` builds its
stores (``recs.stores.wiring``), the flow calls store methods, and each method is one or more
boto3 calls in ``recs.stores.aws``. IAM checks a transaction per item (a ``Put`` inside
``TransactWriteItems`` needs ``dynamodb:PutItem``, an ``Update`` ``dynamodb:UpdateItem``), so
the transactional promote shows up here as ``PutItem`` and ``UpdateItem``.

Two tests hold the tables to the code: ``tests/infra/test_layout_grants.py`` runs the
functions' flows against recording object stores (every S3 key under a granted prefix, every
granted prefix used), ``tests/infra/test_dynamodb_grants.py`` runs the handlers on moto with
a DynamoDB client that records the IAM action each call needs, per function and table
(granted == used). Change the code's calls, and one of them says which row to change here.
"""

from __future__ import annotations

from recs.contracts import layout, resources
from recs.contracts.layout import iam_prefix

# DynamoDB, per function and table (by ``TableSpec.logical_id``): the IAM actions, without
# the ``dynamodb:`` prefix, exactly those its code calls. A function or table not named here
# gets nothing.
DYNAMODB_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # The read path: one BatchGetItem over lists and shopper state; the registry's live
    # pointer (GetItem) and, for /models/status, the versions (Query). Experiments: the
    # running ones (Query, cached like the pointer), each served list an exposure counted
    # on the unit's row and the variant's sums (UpdateItem).
    resources.API.name: {
        resources.RECOMMENDATIONS.logical_id: ("BatchGetItem",),
        resources.REALTIME.logical_id: ("BatchGetItem",),
        resources.REGISTRY.logical_id: ("GetItem", "Query"),
        resources.EXPERIMENTS.logical_id: ("Query", "UpdateItem"),
    },
    # Shoppers' recent events (UpdateItem, list_append; the trim), the unavailable set
    # (UpdateItem ADD/DELETE), new arrivals (GetItem, then a conditional PutItem). An event
    # of an experiment's arm counts on the unit's row (a conditional UpdateItem keyed by the
    # event id; when it fails, GetItem tells a redelivery) and the variant's sums.
    # The day's health row (UpdateItem ADD, recs.contracts.ops) rides on the same grant.
    resources.INGEST.name: {
        resources.REALTIME.logical_id: ("GetItem", "PutItem", "UpdateItem"),
        resources.EXPERIMENTS.logical_id: ("GetItem", "UpdateItem"),
    },
    # The day's health row: events landed, messages quarantined (UpdateItem ADD).
    resources.LANDER.name: {
        resources.EXPERIMENTS.logical_id: ("UpdateItem",),
    },
    # The live model's record, to compare the candidate against it.
    resources.EVALUATE.name: {
        resources.REGISTRY.logical_id: ("GetItem",),
    },
    # The version's record and the pointer (GetItem), its record (PutItem), its row keys and
    # every list (BatchWriteItem). Then recs.batch.retire: the versions (Query), one marked
    # expiring unless live (a transaction: ConditionCheck on the pointer, Update), its row
    # keys read back (GetItem) and its rows deleted (BatchWriteItem), its record (PutItem).
    resources.EXPORT.name: {
        resources.RECOMMENDATIONS.logical_id: ("BatchWriteItem", "GetItem"),
        resources.REGISTRY.logical_id: ("GetItem", "PutItem", "Query", "UpdateItem",
                                        "ConditionCheckItem"),
    },
    # The candidate's record and the live pointer (GetItem); a refusal (PutItem); the flip,
    # one transaction of a Put (pointer) and Updates (statuses).
    resources.PROMOTE.name: {
        resources.REGISTRY.logical_id: ("GetItem", "PutItem", "UpdateItem"),
    },
    # Rollback: the record and pointer (GetItem), the version's global trending row still
    # stored (BatchGetItem), then the same transaction as promote. Experiments: the
    # definitions (Query to list, GetItem by id, PutItem to create and to stop), the live
    # sums and the nightly recount of a report (Query). The console's days (Query).
    resources.ADMIN.name: {
        resources.REGISTRY.logical_id: ("GetItem", "PutItem", "UpdateItem"),
        resources.RECOMMENDATIONS.logical_id: ("BatchGetItem",),
        resources.EXPERIMENTS.logical_id: ("GetItem", "PutItem", "Query"),
    },
    # The nightly recount: the experiments (Query), each one's units for their served lists
    # (Query), its exact counts and the console's attribution by version and tier
    # (BatchWriteItem).
    resources.ATTRIBUTION.name: {
        resources.EXPERIMENTS.logical_id: ("BatchWriteItem", "Query"),
    },
}

# S3, per function: whole top-level prefixes of recs.contracts.layout, the module every writer
# and reader builds its keys with.
BUCKET_READ: dict[str, tuple[str, ...]] = {
    resources.WEIGHT.name: (iam_prefix(layout.EVENTS), iam_prefix(layout.CATALOG)),
    # models/: a re-run takes the tuning choice its version's first run recorded there.
    # events/: tuning and the hold-out read the event files the weight step listed.
    resources.TRAIN.name: (iam_prefix(layout.EVENTS), iam_prefix(layout.INTERACTIONS),
                           iam_prefix(layout.MODELS)),
    resources.EVALUATE.name: (iam_prefix(layout.EVENTS), iam_prefix(layout.INTERACTIONS),
                              iam_prefix(layout.MODELS)),
    resources.EXPORT.name: (iam_prefix(layout.MODELS), iam_prefix(layout.INTERACTIONS)),
    # The recount and the live CTR read the landed events themselves.
    resources.ATTRIBUTION.name: (iam_prefix(layout.EVENTS),),
}
BUCKET_WRITE: dict[str, tuple[str, ...]] = {
    resources.INGEST.name: (iam_prefix(layout.CATALOG),),
    resources.LANDER.name: (iam_prefix(layout.EVENTS), iam_prefix(layout.EVENTS_REJECTED)),
    resources.WEIGHT.name: (iam_prefix(layout.INTERACTIONS),),
    resources.TRAIN.name: (iam_prefix(layout.MODELS),),
}

# The Spark job on EMR Serverless (its execution role): it reads the window's events and the
# catalog snapshot the weight step wrote, writes the version's sample events (interactions/)
# and model, shadow, row files and manifest (models/), and EMR Serverless writes its logs
# under logs/ with the same role. Reading interactions/ and models/ back is Spark's own:
# its executors read what the driver wrote.
SPARK_JOB_READ: tuple[str, ...] = (iam_prefix(layout.EVENTS), iam_prefix(layout.CATALOG),
                                   iam_prefix(layout.INTERACTIONS), iam_prefix(layout.MODELS))
SPARK_JOB_WRITE: tuple[str, ...] = (iam_prefix(layout.INTERACTIONS), iam_prefix(layout.MODELS),
                                    iam_prefix(layout.LOGS))

# SQS: who sends to the events queue. The lander's receive and delete come with its event
# source mapping.
QUEUE_SEND: tuple[str, ...] = (resources.INGEST.name,)
# Who reads the dead-letter queue's depth (sqs:GetQueueAttributes): the console's health route.
DEAD_LETTER_DEPTH: tuple[str, ...] = (resources.ADMIN.name,)


def dynamodb_iam_actions(logical_id: str, actions: tuple[str, ...]) -> list[str]:
    """``("GetItem",)`` -> ``["dynamodb:GetItem"]``, checked: no wildcard, no repeat."""
    if any("*" in action or ":" in action for action in actions) or len(set(actions)) != len(
        actions
    ):
        raise ValueError(f"{logical_id}: name each DynamoDB action once, exactly: {actions}")
    return [f"dynamodb:{action}" for action in actions]
