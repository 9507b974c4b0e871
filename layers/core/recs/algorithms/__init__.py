"""Recommendation algorithms behind one contract (see ``recs.algorithms.base``).

Importing the package loads nothing: ``recs.algorithms.catalog`` declares every algorithm
(its parameters and capabilities) with the standard library alone, so configuration can
check names and settings in functions without scipy; the models (numpy and scipy, in the
batch layers) load from ``recs.algorithms.registry``, which names them all.

The modules layer bottom-up with no cycle: catalog; base; the simple models (knn, swing, als,
popularity) and ``simple``, their table; the composites, ensemble then blend, built from it;
the registry with ``create`` and ``load_any``.
"""
