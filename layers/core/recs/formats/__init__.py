"""How the product stores data in files: the events' Parquet, catalog deltas, ``.npz`` artefacts."""
