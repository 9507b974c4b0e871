"""Contracts between the parts that write data and the parts that read it, one module each.

Pure Python with no dependencies beyond the standard library, so every layer and the CDK app
may import them: a key, path or field changes here and nowhere else.
"""
