"""HTTP glue the API Gateway handlers share: parameter checks, route registration from the
route table (``recs.contracts.routes``), its OpenAPI document, error mapping.

Powertools is imported here and in the handlers only; the domain below knows nothing of HTTP.
"""
