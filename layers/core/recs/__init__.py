"""recs: serverless product recommendations for e-commerce shops.

The package is the domain layer shared by every Lambda function, the local demo and the CDK
app. Modules that need numpy, scipy or pyarrow live under ``recs.batch`` and ``recs.intake.landing``
so that the API function never pays for them at cold start.
"""

__version__ = "0.1.0"
