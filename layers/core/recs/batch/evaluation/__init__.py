"""The production half of evaluation: splits, metrics, the nightly tuning and the gate.

The offline half (dataset loaders, comparison runs, reports, plots) is ``recs_local.evaluation``.
"""
