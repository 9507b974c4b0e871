"""The AWS CDK app that deploys recs: ``cdk synth`` / ``cdk deploy`` from the repo root.

Tables, bucket, queues and functions are built from ``recs.contracts.resources`` and the
nightly state machine from ``recs.batch.pipeline.build_definition``, the same specs the local
demo uses.
"""

import os

# jsii prints an end-of-life banner on every run under Node 20, burying synth's own output. It
# must be set before aws_cdk is imported, which starts the jsii runtime.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
