"""Where everything lives in the data bucket: the one place S3 keys are spelled.

::

    events/dt=YYYY-MM-DD/part-<hash>.parquet    behaviour events, written by the lander
    events-rejected/dt=YYYY-MM-DD/<id>.json     queue messages the lander could not land
    catalog/updates/<ms>-<hash>.jsonl           catalog deltas, written by PUT /items
    interactions/<version>/window.json          the window's event files        (weight)
    interactions/<version>/events.parquet       a user sample's events          (spark job)
    interactions/<version>/interactions.npz     weighted interactions           (weight)
    interactions/<version>/catalog.json         the catalog snapshot's facts    (weight)
    models/<version>/model.npz                  the trained model               (train)
    models/<version>/params.json                the parameters it trained with  (train)
    models/<version>/tuning.json                tuning's choice, reused on a re-run (train)
    models/<version>/rows/part-<n>.parquet      the version's DynamoDB rows     (spark job)
    models/<version>/spark.json                 what the Spark job wrote        (spark job)
    models/<version>/shadow.npz                 the hold-out's shadow model     (spark job)
    logs/spark/                                 the Spark job's logs            (EMR Serverless)

The top-level prefixes are also the unit of access: the CDK app grants each function read or
write on whole prefixes (``iam_prefix``), so a new artefact under an existing prefix needs
no new permission, and one under a new prefix needs a new constant here.
"""

from __future__ import annotations

EVENTS = "events/"
EVENTS_REJECTED = "events-rejected/"
CATALOG = "catalog/"
INTERACTIONS = "interactions/"
MODELS = "models/"
LOGS = "logs/"

PREFIXES = (EVENTS, EVENTS_REJECTED, CATALOG, INTERACTIONS, MODELS, LOGS)

CATALOG_UPDATES = f"{CATALOG}updates/"
EVENT_FILE_SUFFIX = ".parquet"
REJECTED_SUFFIX = ".json"
ROW_FILE_SUFFIX = ".parquet"
CATALOG_DELTA_SUFFIX = ".jsonl"
_PARTITION = "dt="


def iam_prefix(prefix: str) -> str:
    """The IAM resource pattern for every object under a top-level prefix: ``events/*``."""
    if prefix not in PREFIXES:
        raise ValueError(f"not a top-level prefix of the data bucket: {prefix!r}")
    return f"{prefix}*"


# -- events ----------------------------------------------------------------------------------
def event_partition(dt: str) -> str:
    """``events/dt=2026-11-23/``: Hive-style, so Athena, Glue, Spark and DuckDB read it as is."""
    return f"{EVENTS}{_PARTITION}{dt}/"


def event_file(dt: str, digest: str) -> str:
    """``events/dt=<dt>/part-<digest>.parquet``: one landed batch of one day."""
    return f"{event_partition(dt)}part-{digest}{EVENT_FILE_SUFFIX}"


def event_file_date(key: str) -> str | None:
    """``2026-11-23`` of an event file's key; None for any other key."""
    if not key.startswith(EVENTS) or not key.endswith(EVENT_FILE_SUFFIX):
        return None
    for part in key[len(EVENTS):].split("/")[:-1]:
        if part.startswith(_PARTITION):
            return part[len(_PARTITION):]
    return None


def rejected_event(dt: str, message_id: str) -> str:
    """``events-rejected/dt=<dt>/<message id>.json``: a queue message the lander could not land,
    with the reason, filed under the day it was refused (its own date may be unreadable). The
    key is the SQS message id, so a redelivered message is filed once."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                   for c in message_id)[:200]
    return f"{EVENTS_REJECTED}{_PARTITION}{dt}/{safe}{REJECTED_SUFFIX}"


def is_rejected_event(key: str) -> bool:
    return key.startswith(EVENTS_REJECTED) and key.endswith(REJECTED_SUFFIX)


# -- catalog ---------------------------------------------------------------------------------
def catalog_delta(now_ms: int, digest: str) -> str:
    """``catalog/updates/<ms>-<digest>.jsonl``: zero-padded, so the keys sort by time."""
    return f"{CATALOG_UPDATES}{now_ms:015d}-{digest}{CATALOG_DELTA_SUFFIX}"


def is_catalog_delta(key: str) -> bool:
    return key.startswith(CATALOG) and key.endswith(CATALOG_DELTA_SUFFIX)


# -- per model version -----------------------------------------------------------------------
def interactions_prefix(version: str) -> str:
    """``interactions/<version>/``: the weight step's outputs, the later steps' inputs."""
    return f"{INTERACTIONS}{version}/"


def window_files(version: str) -> str:
    """The keys of the event files the weight step read, as JSON: the later steps that need
    the events (tuning, the gate's hold-out) read the same files (``recs.batch.window``)."""
    return f"{interactions_prefix(version)}window.json"


def window_events(version: str) -> str:
    """The Spark job's hashed user sample of the window, deduplicated: the events its tuning
    ran on and evaluate's hold-out comes from (the job's shadow trained on the same users)."""
    return f"{interactions_prefix(version)}events.parquet"


def interactions(version: str) -> str:
    """The weighted user x item interactions (``recs.batch.interactions``)."""
    return f"{interactions_prefix(version)}interactions.npz"


def catalog_snapshot(version: str) -> str:
    """The catalog facts the version trained with: ``{item: [category, title, available]}``."""
    return f"{interactions_prefix(version)}catalog.json"


def model_prefix(version: str) -> str:
    """``models/<version>/``: what the registry records as the version's prefix."""
    return f"{MODELS}{version}/"


def model(version: str) -> str:
    """The trained model (``recs.batch.model``)."""
    return f"{model_prefix(version)}model.npz"


def params(version: str) -> str:
    """The ``BatchConfig`` the model trained with, as JSON."""
    return f"{model_prefix(version)}params.json"


def tuning_choice(version: str) -> str:
    """The parameters tuning chose for the version and its record, as JSON: a re-run of the
    same version takes them rather than tuning again under a wall-clock time box (until the
    bucket's lifecycle rule expires it with the rest of ``models/<version>/``)."""
    return f"{model_prefix(version)}tuning.json"


def rows_prefix(version: str) -> str:
    """``models/<version>/rows/``: the version's DynamoDB rows as Parquet files, written by
    the Spark engine and exported one file per child of the state machine's Distributed Map
    (``recs.formats.row_files``)."""
    return f"{model_prefix(version)}rows/"


def row_file(version: str, part: int) -> str:
    """``models/<version>/rows/part-00007.parquet``: one file of the version's rows."""
    return f"{rows_prefix(version)}part-{part:05d}{ROW_FILE_SUFFIX}"


def is_row_file(key: str) -> bool:
    return (key.startswith(MODELS) and key.endswith(ROW_FILE_SUFFIX)
            and "/rows/" in key[len(MODELS):])


def spark_manifest(version: str) -> str:
    """What the Spark job made of the version, as JSON (``recs.contracts.state.SparkManifest``):
    its written keys, counts and tuning record, which the train step hands on to the state."""
    return f"{model_prefix(version)}spark.json"


def shadow_model(version: str) -> str:
    """The candidate's shadow (trained on the window before the hold-out, with the version's
    parameters) when the engine that trained the version made it, so the evaluate step scores
    it instead of training one: a window too big for a Lambda is too big to train there."""
    return f"{model_prefix(version)}shadow.npz"


# -- logs ------------------------------------------------------------------------------------
def spark_logs() -> str:
    """``logs/spark/``: the Spark job's driver and executor logs (EMR Serverless writes them)."""
    return f"{LOGS}spark/"
