"""Browser-safe access in the stack, read as a spec: two keys with their own usage plans, the
storefront one throttled harder; the functions told the storefront key's id and the shopper
token secret (and allowed to read that secret, nothing more); CORS preflights answered on
every routed resource without a key; API Gateway's own refusals readable by the browser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.constructs_api import RecsApi
from infra.stack import RecsStack
from recs.contracts import access, resources
from recs.contracts.routes import ROUTES, routes_at
from recs.exceptions import ConfigError

pytestmark = pytest.mark.infra

HTTP = {route.function for route in ROUTES}
SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def stack(synthesized: tuple[App, RecsStack]) -> RecsStack:
    return synthesized[1]


def api_alone(origins: list[str]) -> Template:
    """RecsApi in a stack of its own with stand-in functions, allowing ``origins``."""
    stack = Stack(App(), "Access")
    functions = {
        spec.name: lambda_.Function(stack, spec.name, runtime=lambda_.Runtime.PYTHON_3_12,
                                    handler=f"{spec.module}.handler",
                                    code=lambda_.Code.from_inline("def handler(e, c): pass"))
        for spec in resources.FUNCTIONS if spec.name in HTTP
    }
    api = RecsApi(stack, "Api", functions=functions, require_api_key=True, rate_limit=10,
                  burst_limit=20, storefront_rate_limit=2, storefront_burst_limit=4)
    api.allow_origins(origins)
    return Template.from_stack(stack)


def methods(template: Template) -> dict[str, dict[str, Any]]:
    """"METHOD /path" -> method properties."""
    tree = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if not isinstance(ref, dict) or "Ref" not in ref:
            return ""
        props = tree[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {f"{props['HttpMethod']} {path_of(props['ResourceId'])}": props
            for props in (resource["Properties"] for resource in
                          template.find_resources("AWS::ApiGateway::Method").values())}


def logical_id(template: Template, kind: str, prefix: str) -> str:
    (found,) = [lid for lid in template.find_resources(kind) if lid.startswith(prefix)]
    return found


# --- keys and usage plans -------------------------------------------------------------------

def test_the_template_holds_two_keys_each_in_its_own_usage_plan(template: Template) -> None:
    server = logical_id(template, "AWS::ApiGateway::ApiKey", "ApiApiKey")
    storefront = logical_id(template, "AWS::ApiGateway::ApiKey", "ApiStorefrontKey")
    plans = template.find_resources("AWS::ApiGateway::UsagePlan")
    plan_of = {props["Properties"]["KeyId"]["Ref"]: props["Properties"]["UsagePlanId"]["Ref"]
               for props in template.find_resources("AWS::ApiGateway::UsagePlanKey").values()}
    assert set(plan_of) == {server, storefront}
    assert plans[plan_of[server]]["Properties"]["Throttle"] == {"RateLimit": 100,
                                                                "BurstLimit": 200}
    # The public key is throttled harder: it cannot use up the backend's rate.
    assert plans[plan_of[storefront]]["Properties"]["Throttle"] == {"RateLimit": 20,
                                                                    "BurstLimit": 40}


def test_the_storefront_throttle_comes_from_context(tmp_path_factory: pytest.TempPathFactory,
                                                    ) -> None:
    context = {"aws:cdk:disable-asset-staging": True, "allow_stale_layers": True,
               "storefront_rate_limit": 5, "storefront_burst_limit": 9, "cors_origins": []}
    stack = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out")), nag=False)[1]
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGateway::UsagePlan",
                                     {"Throttle": {"RateLimit": 5, "BurstLimit": 9}})
    # No origin: no preflight, no CORS on the gateway's answers, none in the functions.
    assert not [key for key in methods(template) if key.startswith("OPTIONS ")]
    assert not template.find_resources("AWS::ApiGateway::GatewayResponse")
    for fn in template.find_resources("AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        assert env.get(access.CORS_ORIGINS_ENV, "") == ""


def test_the_http_functions_know_the_storefront_key_and_the_secret(
        stack: RecsStack, template: Template) -> None:
    storefront = logical_id(template, "AWS::ApiGateway::ApiKey", "ApiStorefrontKey")
    secret = logical_id(template, "AWS::SecretsManager::Secret", "ApiShopperTokenSecret")
    for name in HTTP:
        fn = stack.functions[name]
        env = template.find_resources("AWS::Lambda::Function")[
            stack.get_logical_id(fn.node.default_child)]["Properties"]["Environment"]["Variables"]
        assert env[access.STOREFRONT_KEY_ID_ENV] == {"Ref": storefront}, name
        wants_secret = access.SHOPPER_SECRET_ARN_ENV in access.FUNCTION_ENV[name]
        assert (env.get(access.SHOPPER_SECRET_ARN_ENV) == {"Ref": secret}) is wants_secret


def test_only_the_token_checkers_may_read_the_secret(stack: RecsStack,
                                                     template: Template) -> None:
    secret = logical_id(template, "AWS::SecretsManager::Secret", "ApiShopperTokenSecret")
    readers = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if json.dumps({"Ref": secret}) in json.dumps(statement.get("Resource")):
                actions = statement["Action"]
                assert set([actions] if isinstance(actions, str) else actions) == {
                    "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
                readers |= {role["Ref"] for role in policy["Properties"]["Roles"]}
    expected = {stack.get_logical_id(stack.functions[name].role.node.default_child)
                for name in (resources.API.name, resources.INGEST.name)}
    assert readers == expected


def test_the_stack_outputs_the_storefront_key_and_the_secret(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert outputs["StorefrontKeyId"]["Value"] == {
        "Ref": logical_id(template, "AWS::ApiGateway::ApiKey", "ApiStorefrontKey")}
    assert outputs["ShopperTokenSecretArn"]["Value"] == {
        "Ref": logical_id(template, "AWS::SecretsManager::Secret", "ApiShopperTokenSecret")}


# --- CORS -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted({route.path for route in ROUTES}))
def test_every_routed_resource_answers_a_preflight_without_a_key(path: str) -> None:
    preflight = methods(api_alone([SHOP]))[f"OPTIONS {path}"]
    assert preflight["ApiKeyRequired"] is False
    assert preflight["AuthorizationType"] == "NONE"
    assert preflight["Integration"]["Type"] == "MOCK"
    headers = preflight["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
    assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{SHOP}'"
    allowed = headers["method.response.header.Access-Control-Allow-Methods"].strip("'")
    assert set(allowed.split(",")) == {r.method for r in routes_at(path)} | {"OPTIONS"}
    sent = headers["method.response.header.Access-Control-Allow-Headers"].strip("'")
    assert set(sent.split(",")) == set(access.CORS_ALLOW_HEADERS)


def test_several_origins_are_each_echoed_by_the_preflight() -> None:
    other = "https://www.shop.example"
    preflight = methods(api_alone([SHOP, other]))["OPTIONS /recommendations"]
    answer = preflight["Integration"]["IntegrationResponses"][0]
    # The first origin by default, another one echoed when it is the request's Origin.
    assert answer["ResponseParameters"][
        "method.response.header.Access-Control-Allow-Origin"] == f"'{SHOP}'"
    vtl = answer["ResponseTemplates"]["application/json"]
    assert f'$origin == "{other}"' in vtl and "responseOverride.header.Access-Control-Allow-" \
        "Origin = $origin" in vtl


@pytest.mark.parametrize("origins, allow", [
    ([SHOP], f"'{SHOP}'"),
    ([SHOP, "https://www.shop.example"], "method.request.header.Origin"),
    (["*"], "'*'"),
])
def test_the_gateways_own_refusals_carry_cors_headers(origins: list[str], allow: str) -> None:
    responses = api_alone(origins).find_resources("AWS::ApiGateway::GatewayResponse")
    kinds = {r["Properties"]["ResponseType"]: r["Properties"]["ResponseParameters"]
             for r in responses.values()}
    # DEFAULT_4XX covers the missing key's 403 and the throttle's 429; DEFAULT_5XX the rest.
    assert set(kinds) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for headers in kinds.values():
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == allow


def test_the_functions_are_told_the_origins() -> None:
    template = api_alone([SHOP, "https://www.shop.example"])
    envs = [fn["Properties"]["Environment"]["Variables"]
            for fn in template.find_resources("AWS::Lambda::Function").values()]
    assert [env[access.CORS_ORIGINS_ENV] for env in envs] == [
        f"{SHOP},https://www.shop.example"] * len(HTTP)


def test_by_default_the_storefront_distribution_may_call_the_api(template: Template) -> None:
    distribution = logical_id(template, "AWS::CloudFront::Distribution", "Storefront")
    preflight = methods(template)["OPTIONS /recommendations"]
    origin = preflight["Integration"]["IntegrationResponses"][0]["ResponseParameters"][
        "method.response.header.Access-Control-Allow-Origin"]
    assert origin == {"Fn::Join": ["", ["'https://", {
        "Fn::GetAtt": [distribution, "DomainName"]}, "'"]]}


@pytest.mark.parametrize("raw", ["shop.example", ["*", SHOP], "[1]", "[not json"])
def test_bad_origins_are_refused_at_synth(raw: Any,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    context = {"aws:cdk:disable-asset-staging": True, "allow_stale_layers": True,
               "cors_origins": raw}
    with pytest.raises(ConfigError, match="cors_origins"):
        build_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out")), nag=False)
