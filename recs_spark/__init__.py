"""The nightly batch on Spark, for windows past what one Lambda holds (EMR Serverless).

The same maths as the single-node steps (``recs.batch.weighting``, ``recs.batch.training``,
``recs.batch.steps.export``): the weighting and the item-item similarity are distributed
DataFrame work; the user lists are ranked per partition of users by the single-node ranking
code itself, from broadcast arrays; each partition writes its own file of DynamoDB rows
(``recs.formats.row_files``) through the ObjectStore port. ``recs`` never imports this
package (import-linter): it needs pyspark, which the Lambda layer does not carry.
"""
