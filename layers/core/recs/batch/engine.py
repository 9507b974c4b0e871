"""Which engine trains a window: the Lambda steps or the Spark job on EMR Serverless.

Each Lambda step has at most 10 GB, 6 vCPUs and 15 minutes, and the deployed steps' memory
is sized for windows up to ``spark_min_events`` (``benchmarks/training.py`` measures what a
step needs per million events). A larger window goes to the Spark job, which runs the same
maths on as many executors as the window needs. The weight step decides from the event
files' Parquet footers alone, before it reads a row, and the state machine's Choice reads
the decision from the state.
"""

from __future__ import annotations

from recs.batch.config import BatchConfig

LAMBDA = "lambda"
SPARK = "spark"


def choose(config: BatchConfig, events: int) -> str:
    """``spark`` or ``lambda`` for a window of ``events`` events under ``config.engine``."""
    if config.engine in (LAMBDA, SPARK):
        return config.engine
    return SPARK if events >= config.spark_min_events else LAMBDA
