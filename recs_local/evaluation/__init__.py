"""Offline evaluation: datasets, comparison runs against baselines and libraries, reports."""
