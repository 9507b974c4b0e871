"""The Spark job's entry point on EMR Serverless (uploaded as an S3 asset by
``infra.constructs_spark``): ``recs_spark.job`` itself, which ``--py-files`` puts on the
driver's and the executors' path, with the arguments the state machine's task passes
(``--store s3://<data bucket> --state <the weight step's state as JSON>``)."""

from __future__ import annotations

import sys

from recs_spark.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
