"""recs: serverless product recommendations for e-commerce shops.

This package is the Lambda layer every function imports, grouped by how data flows:

- ``contracts``: what writers and readers agree on (events, items, keys, S3 layout, batch
  state, routes, resources), pure Python;
- ``intake``: events and catalog items in (validation, queueing, landing in S3);
- ``serving``: the read path (tiers, filters, reasons), pure Python and fast to import;
- ``batch``: the nightly steps, with the production half of evaluation (tuning, gate);
- ``api``: HTTP glue shared by the handlers (parameters, routing, errors as responses);
- ``algorithms``: the recommenders (numpy, scipy);
- ``stores``: the storage ports with their AWS and in-memory implementations;
- ``formats``: file formats (event Parquet, catalog deltas, ``.npz`` artefacts).

The layering, and which layers may import which, is declared in pyproject.toml and explained
in docs/architecture.md. Offline tools (the CLI, evaluation reports, the local cloud) live in
``recs_local``, outside every Lambda layer.
"""

__version__ = "0.1.0"
