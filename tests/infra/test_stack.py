"""RecsStack, read as a spec: what gets deployed, built from recs.contracts.resources and
recs.batch.pipeline.

The app is synthesised once for the infra suite (``tests/infra/conftest.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.access import DYNAMODB_ACTIONS
from infra.app import build_app
from infra.constructs_api import ROUTES
from infra.constructs_layers import LayersNotBuiltError, check_layer
from infra.stack import (
    ARTEFACT_MARGIN_DAYS,
    DEFAULT_SCHEDULE,
    LOG_RETENTION_DAYS,
    RecsStack,
    Settings,
    bucket_retention,
    config_env,
)
from recs.batch.config import BatchConfig
from recs.batch.pipeline import SparkJob, build_definition
from recs.contracts import access, layout, resources
from recs.exceptions import ConfigError

pytestmark = pytest.mark.infra

Resources = dict[str, dict[str, Any]]


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
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return str(value["Fn::Sub"])  # its ${...} left as they are
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


def test_there_are_exactly_the_spec_tables(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", len(resources.TABLES))


def test_the_experiments_table_is_kept_like_the_registry(template: Template) -> None:
    """Experiments are the record behind decisions (a stopped one's counts stay readable):
    like the model registry, nothing in them expires, point-in-time recovery is on, the
    encryption is the same, and deleting the stack keeps the table."""
    deployed = template.find_resources("AWS::DynamoDB::Table")
    by_spec = {spec: deployed[lid] for lid, spec in _table_ids(template).items()}
    experiments = by_spec[resources.EXPERIMENTS.logical_id]
    registry = by_spec[resources.REGISTRY.logical_id]
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        assert experiments[policy] == registry[policy] == "Retain"
    properties = experiments["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert "TimeToLiveSpecification" not in properties
    for setting in ("PointInTimeRecoverySpecification", "SSESpecification", "BillingMode"):
        assert properties.get(setting) == registry["Properties"].get(setting), setting


def test_the_functions_that_run_experiments_are_told_the_experiments_table(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    """The API places and exposes, ingest counts events, the admin runs the routes, the
    nightly attribution step recounts; ingest and the lander also count the day's health
    there (the operator console's rows)."""
    table = next(lid for lid, spec in _table_ids(template).items()
                 if spec == resources.EXPERIMENTS.logical_id)
    told = {name for name, (_, props) in functions.items()
            if props["Environment"]["Variables"].get(resources.EXPERIMENTS.env_var)
            == {"Ref": table}}
    assert told == {resources.API.name, resources.INGEST.name, resources.ADMIN.name,
                    resources.ATTRIBUTION.name, resources.LANDER.name}


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


def _data_bucket(template: Template) -> dict[str, Any]:
    (bucket,) = [
        res["Properties"]
        for res in template.find_resources("AWS::S3::Bucket").values()
        if res["Properties"].get("LoggingConfiguration", {}).get("LogFilePrefix")
        == "data-bucket/"
    ]
    return bucket


def _expiry_by_prefix(bucket: dict[str, Any]) -> dict[str, int]:
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    return {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "Prefix" in rule}


def test_data_bucket_expires_artefacts_after_the_model_ttl_and_a_margin_and_keeps_events(
    template: Template,
) -> None:
    artefacts = BatchConfig().model_ttl_days + ARTEFACT_MARGIN_DAYS
    assert artefacts == 37
    assert _expiry_by_prefix(_data_bucket(template)) == {
        layout.INTERACTIONS: artefacts,
        layout.MODELS: artefacts,
        layout.LOGS: LOG_RETENTION_DAYS,
    }


def test_data_bucket_aborts_incomplete_uploads_and_is_not_versioned(template: Template) -> None:
    """Unversioned: an expired object is gone, no noncurrent versions pile up."""
    bucket = _data_bucket(template)
    (abort,) = [r for r in bucket["LifecycleConfiguration"]["Rules"]
                if "AbortIncompleteMultipartUpload" in r]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in abort  # the whole bucket
    assert "VersioningConfiguration" not in bucket


def test_every_top_level_prefix_of_the_bucket_has_a_retention_decision() -> None:
    assert set(bucket_retention(Settings())) == set(layout.PREFIXES)
    assert bucket_retention(Settings())[layout.CATALOG] is None  # deltas fold with no window


def test_events_retention_inside_the_training_window_fails_synthesis() -> None:
    window = BatchConfig().training_window_days
    assert bucket_retention(Settings(events_retention_days=window))[layout.EVENTS] == window
    with pytest.raises(ConfigError, match="training window"):
        bucket_retention(Settings(events_retention_days=window - 1))
    shorter = Settings(events_retention_days=30,
                       recs_config=config_env({"training_window_days": 30}))
    assert bucket_retention(shorter)[layout.EVENTS] == 30


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
    """Besides them only CDK's own handlers for the storefront: the BucketDeployment copier
    and the custom resource that reads the API key's value (infra/constructs_storefront.py)."""
    found = template.find_resources("AWS::Lambda::Function")
    handlers = {f"{spec.module}.handler" for spec in resources.FUNCTIONS}
    ours = [lid for lid, res in found.items() if res["Properties"]["Handler"] in handlers]
    assert len(ours) == len(resources.FUNCTIONS) == 10
    assert sorted(lid[:26] for lid in set(found) - set(ours)) == [
        "AWS679f53fac002430cb0da5b7", "CustomCDKBucketDeployment8"]


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_runtime_handler_memory_timeout_come_from_its_spec_and_x_ray_is_off(
    functions: dict[str, tuple[str, dict[str, Any]]], spec: resources.FunctionSpec
) -> None:
    _, props = functions[spec.name]
    assert props["Runtime"] == "python3.12"
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    assert "TracingConfig" not in props  # X-Ray off: no handler uses it (infra/stack.py)


def test_the_export_makes_its_rows_in_a_process_per_vcpu(
    functions: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    """3,584 MB is two of Lambda's vCPUs: two processes make and write the rows; no other
    function gets the setting."""
    for spec in resources.FUNCTIONS:
        env = functions[spec.name][1]["Environment"]["Variables"]
        if spec is resources.EXPORT:
            assert env["RECS_EXPORT_PROCESSES"] == str(resources.vcpus(spec.memory_mb)) == "2"
        else:
            assert "RECS_EXPORT_PROCESSES" not in env


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_carries_exactly_the_layers_its_spec_names(
    template: Template,
    functions: dict[str, tuple[str, dict[str, Any]]],
    spec: resources.FunctionSpec,
) -> None:
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    names = {
        lid: res["Properties"]["Description"].split()[1].rstrip(":") for lid, res in layers.items()
        if res["Properties"]["Description"].startswith("recs ")  # not the storefront's AWS CLI
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
    assert set(env) == {*spec.env, *access.FUNCTION_ENV.get(spec.name, ()),
                        *resources.function_settings(spec), "POWERTOOLS_SERVICE_NAME",
                        "LOG_LEVEL"}
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


def _table_ids(template: Template) -> dict[str, str]:
    """Deployed table logical id -> the ``TableSpec.logical_id`` it was built from."""
    deployed = template.find_resources("AWS::DynamoDB::Table")
    found = {
        lid: spec.logical_id
        for lid in deployed
        for spec in resources.TABLES
        if lid.startswith(spec.logical_id)
    }
    assert len(found) == len(deployed) == len(resources.TABLES)
    return found


def _dynamodb_access(template: Template, role: str) -> dict[str, set[str]]:
    """Table spec id -> the DynamoDB actions a role's policies allow on it (statements may be
    merged across tables: cdk.json's minimizePolicies)."""
    tables = _table_ids(template)
    access: dict[str, set[str]] = {}
    for statement in _policy_statements(template, role):
        actions = {a for a in _as_list(statement["Action"]) if a.startswith("dynamodb:")}
        if not actions:
            continue
        assert statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"]):
            logical_id, attribute = resource["Fn::GetAtt"]  # a table's ARN, never a pattern
            assert attribute == "Arn"
            access.setdefault(tables[logical_id], set()).update(
                a.removeprefix("dynamodb:") for a in actions
            )
    return access


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda s: s.name)
def test_function_may_call_exactly_the_dynamodb_actions_declared_for_it(
    template: Template,
    functions: dict[str, tuple[str, dict[str, Any]]],
    spec: resources.FunctionSpec,
) -> None:
    """infra.access.DYNAMODB_ACTIONS, which tests/infra/test_dynamodb_grants.py holds to the
    calls the code makes, is what the roles get: no Scan, DeleteItem or DescribeTable."""
    granted = _dynamodb_access(template, _role_of(functions[spec.name][1]))
    declared = {table: set(actions) for table, actions in DYNAMODB_ACTIONS.get(spec.name,
                                                                               {}).items()}
    assert granted == declared


def test_no_role_in_the_stack_may_scan_or_delete_dynamodb_items(template: Template) -> None:
    actions = {
        action
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in _as_list(statement["Action"])
    }
    assert not {a for a in actions if a.startswith("dynamodb:") and "*" in a}
    assert not actions & {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:DescribeTable"}


def test_api_role_only_reads_dynamodb_but_counts_exposures(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    """The read path writes one thing: an exposure of a running experiment, counted on the
    experiments table (UpdateItem ADD). Lists, shoppers and the registry it only reads."""
    role = _role_of(functions["api"][1])
    actions = {
        action
        for statement in _policy_statements(template, role)
        for action in _as_list(statement["Action"])
    }
    writes = ("Put", "Update", "Delete", "BatchWrite")
    access = _dynamodb_access(template, role)
    assert set(access) == {spec.logical_id for spec in resources.TABLES}
    for table, granted in access.items():
        written = {a for a in granted if a.startswith(writes)}
        assert written == ({"UpdateItem"} if table == resources.EXPERIMENTS.logical_id
                           else set()), table
    assert not any(a.startswith(("s3:", "sqs:")) for a in actions)


@pytest.mark.parametrize(
    ("function", "prefixes"),
    [
        ("ingest", {"catalog/*"}),
        ("lander", {"events/*", "events-rejected/*"}),
        ("weight", {"events/*", "catalog/*", "interactions/*"}),
        ("train", {"events/*", "interactions/*", "models/*"}),  # tuning reads the window
        ("evaluate", {"events/*", "interactions/*", "models/*"}),  # and the hold-out
        ("export", {"models/*", "interactions/*"}),
        ("attribution", {"events/*"}),
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


def test_only_the_admin_may_read_the_dead_letter_queue_depth_and_is_told_its_url(
    template: Template, functions: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    """GET /ops/health counts the dead-lettered messages: sqs:GetQueueAttributes on the
    dead-letter queue alone, and nothing else of it (no receive, no delete)."""
    (dlq,) = [lid for lid in template.find_resources("AWS::SQS::Queue") if "DeadLetter" in lid]
    for name, (_, props) in functions.items():
        reads = [statement for statement in _policy_statements(template, _role_of(props))
                 if any(r == {"Fn::GetAtt": [dlq, "Arn"]}
                        for r in _as_list(statement["Resource"]))]
        told = props["Environment"]["Variables"].get(resources.DLQ_ENV)
        if name == resources.ADMIN.name:
            assert [_as_list(s["Action"]) for s in reads] == [["sqs:GetQueueAttributes"]]
            assert told == {"Ref": dlq}
        else:
            assert reads == [] and told is None, name


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
    (application,) = template.find_resources("AWS::EMRServerless::Application")
    (job_role,) = [lid for lid in template.find_resources("AWS::IAM::Role")
                   if lid.startswith("SparkJobRole")]
    (bucket,) = template.find_resources("AWS::S3::Bucket", {"Properties": {
        "LoggingConfiguration": Match.any_value()}})
    submit = deployed["States"]["Spark"]["Parameters"]["JobDriver"]["SparkSubmit"]
    assets = "s3://cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/"
    assert submit["EntryPoint"].startswith(assets) and submit["EntryPoint"].endswith(".py")
    py_files = submit["SparkSubmitParameters"].removeprefix("--py-files ")
    assert py_files.startswith(assets) and py_files.endswith(".zip")
    spark = SparkJob(application_id=f"<{application}.ApplicationId>",
                     execution_role_arn=f"<{job_role}.Arn>", bucket=f"<{bucket}>",
                     entry_point=submit["EntryPoint"], py_files=py_files)
    assert deployed == build_definition(placeholders, spark)


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


def test_api_has_exactly_the_routes_and_their_preflights(template: Template) -> None:
    assert set(_api_methods(template)) == {(r.method, r.path) for r in ROUTES} | {
        ("OPTIONS", r.path) for r in ROUTES}


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


def test_usage_plans_throttle_and_hold_the_two_keys(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan", {"Throttle": {"RateLimit": 100, "BurstLimit": 200}}
    )
    # The storefront key's plan (tests/infra/test_browser_access.py checks which is which).
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan", {"Throttle": {"RateLimit": 20, "BurstLimit": 40}}
    )
    template.resource_count_is("AWS::ApiGateway::ApiKey", 2)
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 2)


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


def _alarm_on(template: Template, metric: str) -> dict[str, Any]:
    (alarm,) = [
        res["Properties"]
        for res in template.find_resources("AWS::CloudWatch::Alarm").values()
        if res["Properties"].get("MetricName") == metric
    ]
    return alarm


def test_every_alarm_notifies_the_alarm_topic(template: Template) -> None:
    (topic,) = template.find_resources("AWS::SNS::Topic")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 9
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_a_nightly_run_that_skipped_unreadable_inputs_alarms(template: Template) -> None:
    """The metric the batch emits with Powertools Metrics: its namespace, and the service
    dimension Powertools adds from POWERTOOLS_SERVICE_NAME."""
    alarm = _alarm_on(template, resources.UNREADABLE_INPUTS_METRIC)
    assert alarm["Namespace"] == resources.METRICS_NAMESPACE == "recs"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": resources.SERVICE}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum", 1, "GreaterThanOrEqualToThreshold"
    )
    assert alarm["TreatMissingData"] == "notBreaching"  # a night with nothing skipped


def test_no_model_promoted_for_three_days_alarms(template: Template) -> None:
    alarm = _alarm_on(template, resources.MODEL_PROMOTED_METRIC)
    assert alarm["Namespace"] == resources.METRICS_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": resources.SERVICE}]
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 86_400)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "breaching"  # no run at all is no promotion


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


# --- context that changes the template -------------------------------------------------------


@pytest.fixture(scope="module")
def custom_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    context = {
        "aws:cdk:disable-asset-staging": True,
        "allow_stale_layers": True,
        "events_retention_days": "400",  # as -c passes it: a string
        "stale_model_days": "5",
        "recs_config": {"model_ttl_days": 10},
    }
    _, stack = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out")), nag=False)
    return Template.from_stack(stack)


def test_context_sets_event_retention_and_the_model_ttl_moves_artefact_expiry(
    custom_template: Template,
) -> None:
    assert _expiry_by_prefix(_data_bucket(custom_template)) == {
        layout.EVENTS: 400,
        layout.EVENTS_REJECTED: 400,
        layout.INTERACTIONS: 10 + ARTEFACT_MARGIN_DAYS,
        layout.MODELS: 10 + ARTEFACT_MARGIN_DAYS,
        layout.LOGS: LOG_RETENTION_DAYS,
    }


def test_context_sets_how_many_days_without_a_promotion_alarm(custom_template: Template) -> None:
    alarm = _alarm_on(custom_template, resources.MODEL_PROMOTED_METRIC)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 5


# --- context handling, without synthesis ---------------------------------------------------


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, (3, None)),
        ({"stale_model_days": 7, "events_retention_days": "keep"}, (7, None)),
        ({"stale_model_days": "1", "events_retention_days": 365}, (1, 365)),
    ],
)
def test_retention_and_staleness_context(context: dict[str, Any], expected: Any) -> None:
    settings = Settings.from_context(App(context=context))
    assert (settings.stale_model_days, settings.events_retention_days) == expected


@pytest.mark.parametrize(
    "context",
    [
        {"stale_model_days": 0},
        {"stale_model_days": 8},  # CloudWatch evaluates over at most seven days
        {"stale_model_days": "soon"},
        {"events_retention_days": 0},
        {"events_retention_days": "-30"},
        {"events_retention_days": "forever"},
        {"events_retention_days": True},
    ],
)
def test_bad_retention_or_staleness_context_fails_naming_the_key(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(context))):
        Settings.from_context(App(context=context))


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
