"""RecsStack, read as a spec: what gets deployed, built from recs.contracts.resources and
recs.batch.pipeline.

The app is synthesised once for the module (a few seconds). It needs the layers that
``python layers/build_layers.py`` builds (``make layers``); without them the fixture fails and
says so. Asset staging is off (nothing is copied) and a layer built from an older ``recs`` is
accepted here: these tests check the template, ``cdk synth`` checks the layers are current.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.app import build_app
from infra.constructs_api import ROUTES
from infra.constructs_layers import LayersNotBuiltError, check_layer
from infra.stack import DEFAULT_SCHEDULE, RecsStack, config_env
from recs.batch.pipeline import build_definition
from recs.contracts import resources
from recs.exceptions import ConfigError

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, RecsStack]]:
    context = {"aws:cdk:disable-asset-staging": True, "allow_stale_layers": True}
    try:
        app, stack = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out")), nag=False)
    except LayersNotBuiltError as exc:
        pytest.fail(f"{exc}\n(`make layers` builds them)", pytrace=False)
    yield app, stack


@pytest.fixture(scope="module")
def template(synthesized: tuple[App, RecsStack]) -> Template:
    return Template.from_stack(synthesized[1])


@pytest.fixture(scope="module")
def functions(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    """Spec name -> (logical id, properties) of its Lambda function, found by handler."""
    found = template.find_resources("AWS::Lambda::Function")
    by_handler = {
        res["Properties"]["Handler"]: (lid, res["Properties"]) for lid, res in found.items()
    }
    return {spec.name: by_handler[f"{spec.module}.handler"] for spec in resources.FUNCTIONS}


def _resolve(value: Any) -> str:
    """Enough of CloudFormation to read a string: Fn::Join, and placeholders for references."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(part) for part in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    raise AssertionError(f"cannot resolve {value!r}")


def _policy_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [
        statement
        for policy in policies.values()
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_of(fn_props: dict[str, Any]) -> str:
    return str(fn_props["Role"]["Fn::GetAtt"][0])


# --- data stores --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", resources.TABLES, ids=lambda s: s.logical_id)
def test_each_table_has_the_spec_keys_ttl_on_demand_billing_and_pitr(
    template: Template, spec: resources.TableSpec
) -> None:
    keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    attributes = [{"AttributeName": spec.partition_key, "AttributeType": "S"}]
    if spec.sort_key:
        keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": spec.sort_key, "AttributeType": "S"})
    ttl = (
        {"AttributeName": spec.ttl_attribute, "Enabled": True}
        if spec.ttl_attribute
        else Match.absent()
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": keys,
            "AttributeDefinitions": attributes,
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": ttl,
        },
    )


def test_there_are_exactly_the_three_spec_tables(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", len(resources.TABLES))


def test_data_bucket_is_encrypted_private_and_logged(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "data-bucket/"}),
        },
    )


def test_every_bucket_denies_requests_without_tls(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    policies = template.find_resources("AWS::S3::BucketPolicy")
    tls_only = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert tls_only == set(buckets)


def test_events_queue_redrives_to_the_dead_letter_queue_after_five_receives(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("DeadLetter"), "Arn"]
                },
                "maxReceiveCount": 5,
            },
            "SqsManagedSseEnabled": True,
        },
    )
    template.resource_count_is("AWS::SQS::Queue", 2)


def test_queues_deny_requests_without_tls(template: Template) -> None:
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


# --- functions ----------------------------------------------------------------------------


def test_one_function_per_spec(template: Template) -> None:
    template.resource_count_is("AWS::Lambda::Function", len(resources.FUNCTIONS))
    assert len(resources.FUNCTIONS) == 9


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_runtime_handler_memory_timeout_come_from_its_spec_and_x_ray_is_off(
    functions: dict[str, tuple[str, dict[str, Any]]], spec: resources.FunctionSpec
) -> None:
    _, props = functions[spec.name]
    assert props["Runtime"] == "python3.12"
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    assert "TracingConfig" not in props  # X-Ray off: no handler uses it (infra/stack.py)


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_carries_exactly_the_layers_its_spec_names(
    template: Template,
    functions: dict[str, tuple[str, dict[str, Any]]],
    spec: resources.FunctionSpec,
) -> None:
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    names = {
        lid: res["Properties"]["Description"].split()[1].rstrip(":") for lid, res in layers.items()
    }
    _, props = functions[spec.name]
    assert sorted(names[ref["Ref"]] for ref in props["Layers"]) == sorted(spec.layers)


def test_api_function_has_only_the_core_layer_and_train_has_batch(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    core = next(
        lid for lid, res in layers.items() if "recs core" in res["Properties"]["Description"]
    )
    batch = next(
        lid for lid, res in layers.items() if "recs batch" in res["Properties"]["Description"]
    )
    assert functions["api"][1]["Layers"] == [{"Ref": core}]
    assert {"Ref": batch} in functions["train"][1]["Layers"]


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_environment_names_its_resources_and_nothing_else(
    functions: dict[str, tuple[str, dict[str, Any]]], spec: resources.FunctionSpec
) -> None:
    _, props = functions[spec.name]
    env = props["Environment"]["Variables"]
    assert set(env) == {*spec.env, "POWERTOOLS_SERVICE_NAME", "LOG_LEVEL"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "recs"
    for var in spec.env:
        assert "Ref" in env[var], f"{var} should reference the deployed resource"


def test_each_function_has_its_own_role(functions: dict[str, tuple[str, dict[str, Any]]]) -> None:
    roles = [_role_of(props) for _, props in functions.values()]
    assert len(set(roles)) == len(resources.FUNCTIONS)


def test_no_function_role_has_a_managed_policy(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    for name, (_, props) in functions.items():
        assert "ManagedPolicyArns" not in roles[_role_of(props)]["Properties"], name


def test_api_role_only_reads_dynamodb(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    actions = {
        action
        for statement in _policy_statements(template, _role_of(functions["api"][1]))
        for action in _as_list(statement["Action"])
    }
    dynamodb = {a.removeprefix("dynamodb:") for a in actions if a.startswith("dynamodb:")}
    assert dynamodb
    assert not {a for a in dynamodb if a.startswith(("Put", "Update", "Delete", "BatchWrite"))}
    assert not any(a.startswith(("s3:", "sqs:")) for a in actions)


@pytest.mark.parametrize(
    ("function", "prefixes"),
    [
        ("ingest", {"catalog/*"}),
        ("lander", {"events/*"}),
        ("weight", {"events/*", "catalog/*", "interactions/*"}),
        ("train", {"interactions/*", "models/*"}),
        ("evaluate", {"interactions/*", "models/*"}),
        ("export", {"models/*", "interactions/*"}),
    ],
)
def test_bucket_access_is_limited_to_the_function_prefixes(
    template: Template,
    functions: dict[str, tuple[str, dict[str, Any]]],
    function: str,
    prefixes: set[str],
) -> None:
    object_resources = {
        _resolve(resource)
        for statement in _policy_statements(template, _role_of(functions[function][1]))
        if any(a.startswith("s3:") for a in _as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"])
    }
    suffixes = {r.split(".Arn>/", 1)[1] for r in object_resources if ".Arn>/" in r}
    assert suffixes == prefixes


@pytest.mark.parametrize("function", ["api", "promote", "admin"])
def test_functions_that_do_not_need_the_bucket_cannot_reach_it(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]], function: str
) -> None:
    for statement in _policy_statements(template, _role_of(functions[function][1])):
        assert not any(a.startswith("s3:") for a in _as_list(statement["Action"]))


def test_lander_consumes_the_queue_in_batches_reporting_item_failures(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": functions["lander"][0]},
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 30,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


# --- nightly batch ------------------------------------------------------------------------


def test_state_machine_runs_the_definition_from_build_definition(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    machines = template.find_resources(
        "AWS::StepFunctions::StateMachine",
        {"Properties": {"StateMachineName": resources.STATE_MACHINE_NAME}},
    )
    assert len(machines) == 1
    (machine,) = machines.values()
    deployed = json.loads(_resolve(machine["Properties"]["DefinitionString"]))
    placeholders = {spec.name: f"<{functions[spec.name][0]}.Arn>" for spec in resources.BATCH_STEPS}
    assert deployed == build_definition(placeholders)


def test_state_machine_logs_everything_and_does_not_trace(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "TracingConfiguration": {"Enabled": False},
            "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
        },
    )


def test_state_machine_may_invoke_exactly_the_batch_functions(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invokable = {
        _resolve(resource)
        for statement in _policy_statements(template, role)
        if "lambda:InvokeFunction" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }
    assert invokable == {f"<{functions[s.name][0]}.Arn>" for s in resources.BATCH_STEPS}


def test_schedule_starts_the_state_machine_nightly_by_default(template: Template) -> None:
    (machine_id,) = template.find_resources("AWS::StepFunctions::StateMachine")
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": DEFAULT_SCHEDULE,
            "ScheduleExpressionTimezone": "Etc/UTC",
            "State": "ENABLED",
            "Target": Match.object_like(
                {
                    "Arn": {"Ref": machine_id},
                    "Input": json.dumps(
                        {"as_of": "<aws.scheduler.scheduled-time>"}, separators=(",", ":")
                    ),
                }
            ),
        },
    )
    schedule = next(iter(template.find_resources("AWS::Scheduler::Schedule").values()))
    role = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    statements = _policy_statements(template, role)
    assert statements == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}}
    ]


# --- API ----------------------------------------------------------------------------------


def _api_methods(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> method properties, paths rebuilt from the resource tree."""
    api_resources = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if not isinstance(ref, dict) or "Ref" not in ref:
            return ""  # the root resource: Fn::GetAtt RestApi.RootResourceId
        props = api_resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {
        (props["HttpMethod"], path_of(props["ResourceId"])): props
        for props in (
            res["Properties"] for res in template.find_resources("AWS::ApiGateway::Method").values()
        )
    }


def test_api_has_exactly_the_routes(template: Template) -> None:
    assert set(_api_methods(template)) == {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_requires_an_api_key_and_proxies_to_its_function(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]], route: Any
) -> None:
    method = _api_methods(template)[(route.method, route.path)]
    # Only the API's own description (Swagger UI) is public, so a browser can open it;
    # admin routes (changing the live model) take IAM-signed requests instead of the key.
    assert method["ApiKeyRequired"] is not (route.public or route.admin)
    assert method["AuthorizationType"] == ("AWS_IAM" if route.admin else "NONE")
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert f"<{functions[route.function][0]}.Arn>" in _resolve(method["Integration"]["Uri"])
    assert "RequestValidatorId" in method


def test_usage_plan_throttles_and_holds_the_api_key(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan", {"Throttle": {"RateLimit": 100, "BurstLimit": 200}}
    )
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


def test_stage_writes_access_logs_and_does_not_trace(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": False,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [Match.object_like({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200})]
            ),
        },
    )


# --- monitoring, outputs, cdk-nag ---------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/ApiGateway", "5XXError"),
    ],
)
def test_alarm_fires_on_the_first_occurrence(
    template: Template, namespace: str, metric: str
) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": namespace,
            "MetricName": metric,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": Match.any_value(),
        },
    )


def test_there_is_a_dashboard(template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_outputs_name_what_a_user_needs(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    expected = {"ApiUrl", "ApiKeyId", "BucketName", "StateMachineArn"}
    expected |= {f"{spec.logical_id}Name" for spec in resources.TABLES}
    assert expected <= set(outputs)


def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(
    synthesized: tuple[App, RecsStack], template: Template
) -> None:
    app, stack = synthesized
    report = AwsSolutionsChecks().validate_scope(app)
    findings = [
        f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}: {v.description}"
        for v in report.violations
    ]
    assert findings == []
    errors = Annotations.from_stack(stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    assert errors == []


# --- context handling, without synthesis ---------------------------------------------------


def test_recs_config_becomes_recs_environment_variables() -> None:
    env = config_env({"half_life_days": 14, "event_weights": {"purchase": 8}})
    assert env == {"RECS_HALF_LIFE_DAYS": "14", "RECS_EVENT_WEIGHTS": '{"purchase": 8}'}
    assert config_env('{"neighbours": 20}') == {"RECS_NEIGHBOURS": "20"}
    assert config_env(None) == {}


@pytest.mark.parametrize(
    "bad",
    [
        {"half_life_days": "soon"},
        {"neighbours": 0},
        {"half_life": 3},
        {"bucket": "x"},
        "[1, 2]",
        "{not json",
    ],
)
def test_bad_recs_config_fails_synthesis_naming_the_setting(bad: Any) -> None:
    with pytest.raises(ConfigError):
        config_env(bad)


def test_missing_layer_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(LayersNotBuiltError, match=r"python layers/build_layers.py"):
        check_layer("core", tmp_path, "x86_64")


def test_stale_layer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "core" / "python").mkdir(parents=True)
    (tmp_path / ".core.stamp.json").write_text(json.dumps({"hash": "old", "arch": "x86_64"}))
    with pytest.raises(LayersNotBuiltError, match="out of date"):
        check_layer("core", tmp_path, "x86_64")
    assert check_layer("core", tmp_path, "x86_64", allow_stale=True) == "old"


def test_recs_config_takes_batch_and_serving_settings_and_refuses_typos() -> None:
    from infra.stack import config_env
    from recs.exceptions import ConfigError

    env = config_env({"half_life_days": 14, "RECS_MAX_PER_CATEGORY": 2})
    assert env == {"RECS_HALF_LIFE_DAYS": "14", "RECS_MAX_PER_CATEGORY": "2"}
    with pytest.raises(ConfigError, match="unknown settings"):
        config_env({"half_lif_days": 14})
    with pytest.raises(ConfigError):
        config_env({"max_per_category": 0})
