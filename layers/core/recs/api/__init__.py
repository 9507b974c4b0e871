"""HTTP glue the API Gateway handlers share: parameters, route registration, error mapping.

Powertools is imported here and in the handlers only; the domain below knows nothing of HTTP.
"""
