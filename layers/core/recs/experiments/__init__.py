"""A/B experiments: who sees which variant, and what the numbers say about it.

Pure Python (the standard library's ``statistics`` and ``math``), so the API function can
assign variants and compute results without numpy or scipy on its cold start.
"""
