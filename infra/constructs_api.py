"""The public REST API: API Gateway routes onto the ingest, api and admin functions.

The resources and methods are built from the route table (``recs.contracts.routes``) that the
handlers register from, so a route cannot be served locally yet be missing here. Every route
is a Lambda proxy integration (the functions' powertools resolvers do the routing, validation
and error mapping), behind an API key and a usage plan with throttling, except the public
description (Swagger UI) and the IAM-signed admin routes. The stage
writes JSON access logs (X-Ray is off across the stack, see infra/stack.py).

Two keys split by power (``recs.contracts.access``): the server key, and the storefront key
with a usage plan of its own, throttled harder, since it is public. API Gateway takes either
on every keyed route; the functions refuse the storefront key where it may not go, by its id
(``RECS_STOREFRONT_KEY_ID``), and check shopper tokens against the secret in Secrets Manager
(``RECS_SHOPPER_TOKEN_SECRET_ARN``), which the shop's backend signs them with.

CORS (``allow_origins``): every resource with a route answers a preflight (``OPTIONS``)
without a key (a mock integration), API Gateway's own refusals (the gateway responses: 403
without a key, 429, 5xx) carry ``Access-Control-Allow-Origin`` so a browser can read why,
and the functions add it to their answers (``RECS_CORS_ORIGINS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs_nag import acknowledge
from recs.contracts import access
from recs.contracts.routes import ROUTES, routes_at

STAGE_NAME = "v1"


class RecsApi(Construct):
    """REST API, stage, request validator, the two keys and their usage plans, the shopper
    token secret; CORS once ``allow_origins`` is called."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        require_api_key: bool,
        rate_limit: float,
        burst_limit: int,
        storefront_rate_limit: float = 20,
        storefront_burst_limit: int = 40,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = dict(functions)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="recs: behaviour events in, product recommendations out",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logging needs the account-wide API Gateway CloudWatch role; this stack
            # does not take that singleton over (see the APIG6 acknowledgment below).
            cloud_watch_role=False,
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
            ),
        )
        validator = self.rest_api.add_request_validator(
            "RequestValidator",
            # No request models are attached, so API Gateway passes bodies on and the functions
            # validate them, naming each bad field (a model would answer a bare 400 first).
            validate_request_body=True,
            validate_request_parameters=True,
        )
        integrations = {
            name: apigw.LambdaIntegration(
                fn, proxy=True, allow_test_invoke=False, timeout=Duration.seconds(29)
            )
            for name, fn in functions.items()
        }
        for route in ROUTES:
            resource = self.rest_api.root.resource_for_path(route.path)
            resource.add_method(
                route.method,
                integrations[route.function],
                api_key_required=require_api_key and route.access.keyed,
                authorization_type=(apigw.AuthorizationType.IAM if route.admin
                                    else apigw.AuthorizationType.NONE),
                request_validator=validator,
                request_parameters={f"method.request.path.{param.name}": True
                                    for param in route.params if param.location == "path"},
            )

        self.api_key = apigw.ApiKey(
            self, "ApiKey", description="recs: the server key, for the shop's backend"
        )
        self.usage_plan = self._usage_plan(
            "UsagePlan", "recs: the server key's throttling", rate_limit, burst_limit)
        self.usage_plan.add_api_key(self.api_key)
        self.storefront_key = apigw.ApiKey(
            self, "StorefrontKey", description="recs: the storefront key, public in browsers: "
            "a shopper's own recommendations and events only")
        self.storefront_usage_plan = self._usage_plan(
            "StorefrontUsagePlan", "recs: the storefront key's throttling (public key)",
            storefront_rate_limit, storefront_burst_limit)
        self.storefront_usage_plan.add_api_key(self.storefront_key)
        # Shopper tokens' signing secret, shared with the shop's backend; the functions read
        # it on the first token (recs.stores.secrets), never at cold start.
        self.shopper_secret = secretsmanager.Secret(
            self, "ShopperTokenSecret",
            description="recs: signs shopper tokens (the shop's backend issues them; the API "
                        "checks them): docs/security.md",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48),
        )
        for name, fn in self.functions.items():
            names = access.FUNCTION_ENV.get(name, ())
            if not isinstance(fn, lambda_.Function):
                continue
            if access.STOREFRONT_KEY_ID_ENV in names:
                fn.add_environment(access.STOREFRONT_KEY_ID_ENV, self.storefront_key.key_id)
            if access.SHOPPER_SECRET_ARN_ENV in names:
                fn.add_environment(access.SHOPPER_SECRET_ARN_ENV, self.shopper_secret.secret_arn)
                self.shopper_secret.grant_read(fn)

        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF by default: callers are a shop's own frontend/backend holding an API key, "
            "requests are throttled per key by the usage plan and per stage; a WAF web ACL "
            "(with its monthly cost) can be associated with the stage by the operator.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG6",
            "Stage access logs (JSON) are on; execution logging would require "
            "setting the account-wide API Gateway CloudWatch role, a singleton this stack "
            "should not take over in a shop's account.",
        )
        access_model = (
            "The API is consumed by a shop's systems identified by an API key with a usage plan "
            "(x-api-key header), not by end users with IAM or Cognito identities; the data "
            "served (public product ids and scores) needs no per-user authorization."
        )
        acknowledge(self.rest_api, "AwsSolutions-APIG4", access_model)
        acknowledge(self.rest_api, "AwsSolutions-COG4", access_model)
        acknowledge(self.shopper_secret, "AwsSolutions-SMG4", "The shopper token secret is "
                    "shared with the shop's backend, which must change its copy in step: "
                    "rotating it is the shop's operation (docs/security.md says how), not a "
                    "rotation Lambda that would break every backend's tokens.")

    def _usage_plan(self, construct_id: str, description: str, rate_limit: float,
                    burst_limit: int) -> apigw.UsagePlan:
        return self.rest_api.add_usage_plan(
            construct_id,
            description=description,
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            api_stages=[
                apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)
            ],
        )

    def allow_origins(self, origins: Sequence[str]) -> None:
        """Let browsers on ``origins`` (``https://host``; ``*`` any) call the API: preflights
        answered on every resource with a route, CORS headers on the gateway's refusals and
        on the functions' answers. No origin: nothing is added (no browser may call it)."""
        origins = list(dict.fromkeys(origins))
        env = ",".join(origins)
        for name, fn in self.functions.items():
            if isinstance(fn, lambda_.Function) and access.CORS_ORIGINS_ENV in \
                    access.FUNCTION_ENV.get(name, ()):
                fn.add_environment(access.CORS_ORIGINS_ENV, env)
        if not origins:
            return
        if "*" in origins and len(origins) > 1:
            raise ValueError(f"cors_origins: * allows every origin; list no other ({origins})")
        for path in dict.fromkeys(route.path for route in ROUTES):
            methods = sorted({route.method for route in routes_at(path)} | {"OPTIONS"})
            self.rest_api.root.resource_for_path(path).add_cors_preflight(
                allow_origins=origins,
                allow_methods=methods,
                allow_headers=list(access.CORS_ALLOW_HEADERS),
                max_age=Duration.seconds(access.CORS_MAX_AGE_S),
                status_code=204,
            )
        # One origin: named. Several: the request's own Origin echoed, whichever it is; a
        # gateway refusal's body is API Gateway's message ("Forbidden", "Limit Exceeded")
        # and nothing else, so it tells no origin anything it should not read.
        single = len(origins) == 1
        allow_origin = f"'{origins[0]}'" if single else "method.request.header.Origin"
        headers = {"Access-Control-Allow-Origin": allow_origin,
                   "Access-Control-Expose-Headers":
                       f"'{', '.join(access.CORS_EXPOSE_HEADERS)}'"}
        if origins != ["*"]:
            headers["Vary"] = "'Origin'"
        for kind in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.rest_api.add_gateway_response(
                f"Cors{kind.response_type}".replace("_", ""), type=kind,
                response_headers=headers)
