"""The public REST API: API Gateway routes onto the ingest, api and admin functions.

The resources and methods are built from the route table (``recs.contracts.routes``) that the
handlers register from, so a route cannot be served locally yet be missing here. Every route
is a Lambda proxy integration (the functions' powertools resolvers do the routing, validation
and error mapping), behind an API key and a usage plan with throttling, except the public
description (Swagger UI) and the IAM-signed admin routes. The stage
writes JSON access logs (X-Ray is off across the stack, see infra/stack.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs_nag import acknowledge
from recs.contracts.routes import ROUTES, Access

STAGE_NAME = "v1"


class RecsApi(Construct):
    """REST API, stage, request validator, usage plan and API key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        require_api_key: bool,
        rate_limit: float,
        burst_limit: int,
    ) -> None:
        super().__init__(scope, construct_id)
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
                api_key_required=require_api_key and route.access is Access.API_KEY,
                authorization_type=(apigw.AuthorizationType.IAM if route.access is Access.IAM
                                    else apigw.AuthorizationType.NONE),
                request_validator=validator,
                request_parameters={f"method.request.path.{param.name}": True
                                    for param in route.params if param.location == "path"},
            )

        self.api_key = apigw.ApiKey(
            self, "ApiKey", description="recs: key for the shop's frontend/backend"
        )
        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            description="recs: throttling per API key",
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            api_stages=[
                apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)
            ],
        )
        self.usage_plan.add_api_key(self.api_key)

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
