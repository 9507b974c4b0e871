"""The nightly batch: weighting, similarity, user recommendations, popularity, export.

Everything here may import numpy, scipy and pyarrow; nothing on the API path imports this
package.
"""
