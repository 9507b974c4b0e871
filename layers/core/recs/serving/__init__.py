"""The read path: tiers, fallbacks and reasons. Pure Python, no numpy, fast to import."""
