"""The Spark engine in the template: the EMR Serverless application, the job's role and
code, and what the state machine may do to run it (``infra/constructs_spark.py``).

These read the template the infra suite synthesises once (``tests/infra/conftest.py``);
nothing here runs on AWS.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.access import SPARK_JOB_READ, SPARK_JOB_WRITE
from infra.constructs_spark import (
    APPLICATION_NAME,
    PACKAGE_SOURCES,
    SYNC_RULE,
    SparkSettings,
    package_zip,
)
from recs.batch.pipeline import EXPORT_ROWS, SPARK, SPARK_RESOURCE
from recs.contracts import layout, resources
from recs.exceptions import ConfigError
from tests.infra.test_stack import _as_list, _policy_statements, _resolve

pytestmark = pytest.mark.infra


def _logical_id(template: Template, kind: str, prefix: str) -> str:
    (found,) = [lid for lid in template.find_resources(kind) if lid.startswith(prefix)]
    return found


@pytest.fixture(scope="module")
def definition(template: Template) -> dict[str, Any]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    found: dict[str, Any] = json.loads(_resolve(machine["Properties"]["DefinitionString"]))
    return found


def test_the_application_is_spark_on_arm64_starting_and_stopping_itself(
        template: Template) -> None:
    (application,) = template.find_resources("AWS::EMRServerless::Application").values()
    assert application["Properties"] == {
        "Name": APPLICATION_NAME,
        "Type": "SPARK",
        "ReleaseLabel": SparkSettings().emr_release_label,
        "Architecture": "ARM64",
        "AutoStartConfiguration": {"Enabled": True},
        "AutoStopConfiguration": {"Enabled": True, "IdleTimeoutMinutes": 15},
        "MaximumCapacity": {"Cpu": "100 vCPU", "Memory": "400 GB", "Disk": "2000 GB"},
    }


def test_only_emr_serverless_for_this_application_may_assume_the_job_role(
        template: Template) -> None:
    role = template.to_json()["Resources"][_logical_id(template, "AWS::IAM::Role",
                                                        "SparkJobRole")]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert _resolve(statement["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(
        f":/applications/<{_logical_id(template, 'AWS::EMRServerless::Application', 'Spark')}"
        ".ApplicationId>")
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_job_role_reads_and_writes_its_prefixes_and_its_code_and_nothing_else(
        template: Template) -> None:
    role = _logical_id(template, "AWS::IAM::Role", "SparkJobRole")
    bucket = _logical_id(template, "AWS::S3::Bucket", "DataBucket")
    reads, writes, objects, others = set(), set(), set(), []
    for statement in _policy_statements(template, role):
        actions = set(_as_list(statement["Action"]))
        resources_ = [_resolve(r) for r in _as_list(statement["Resource"])]
        if "s3:GetObject*" in actions:
            reads |= {r for r in resources_ if r != f"<{bucket}.Arn>"}
        elif "s3:PutObject" in actions:
            writes |= set(resources_)
        elif actions == {"s3:GetObject"}:
            objects |= set(resources_)
        else:
            others.append(statement)
    assert reads == {f"<{bucket}.Arn>/{prefix}" for prefix in SPARK_JOB_READ}
    assert writes == {f"<{bucket}.Arn>/{prefix}" for prefix in SPARK_JOB_WRITE}
    assert SPARK_JOB_READ == ("events/*", "catalog/*", "interactions/*", "models/*")
    assert SPARK_JOB_WRITE == ("interactions/*", "models/*", "logs/*")
    # Its script and packages: two objects of the assets bucket, not the bucket.
    assert len(objects) == 2 and {o.rsplit(".", 1)[-1] for o in objects} == {"py", "zip"}
    assert others == []


def test_the_state_machine_chooses_the_engine_and_runs_the_job_synchronously(
        definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["Weight"]["Next"] == "Engine" and states["Engine"]["Type"] == "Choice"
    assert {rule["Next"] for rule in states["Engine"]["Choices"]} == {SPARK}
    task = states[SPARK]
    assert task["Resource"] == SPARK_RESOURCE == (
        "arn:aws:states:::emr-serverless:startJobRun.sync")
    assert task["Parameters"]["ConfigurationOverrides"]["MonitoringConfiguration"] == {
        "S3MonitoringConfiguration": {"LogUri": "s3://<DataBucketE3889A50>/logs/spark/"}}


def test_the_export_is_a_distributed_map_over_the_row_files(
        definition: dict[str, Any]) -> None:
    rows = definition["States"][EXPORT_ROWS]
    assert rows["Type"] == "Map"
    assert rows["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert rows["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert rows["MaxConcurrency"] == SparkSettings().export_concurrency


def test_the_state_machine_may_run_watch_and_cancel_jobs_of_this_application_only(
        template: Template) -> None:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    statements = _policy_statements(template, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        for action in _as_list(statement["Action"]):
            by_action.setdefault(action, []).append(statement)
    app = _logical_id(template, "AWS::EMRServerless::Application", "Spark")
    application = ("arn:<AWS::Partition>:emr-serverless:<AWS::Region>:<AWS::AccountId>:"
                   f"/applications/<{app}.ApplicationId>")
    assert [_resolve(s["Resource"]) for s in by_action["emr-serverless:StartJobRun"]] == [
        application]
    for action in ("emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"):
        assert [_resolve(s["Resource"]) for s in by_action[action]] == [
            f"{application}/jobruns/*"]
    assert not [a for a in by_action if a.startswith("emr-serverless:")
                and a not in ("emr-serverless:StartJobRun", "emr-serverless:GetJobRun",
                              "emr-serverless:CancelJobRun")]
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert [_resolve(s["Resource"]) for s in by_action[action]] == [
            f"arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/{SYNC_RULE}"]
    (pass_role,) = by_action["iam:PassRole"]
    assert _resolve(pass_role["Resource"]) == (
        f"<{_logical_id(template, 'AWS::IAM::Role', 'SparkJobRole')}.Arn>")
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}
    machine_arn = ("arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                   f"stateMachine:{resources.STATE_MACHINE_NAME}")
    assert [_resolve(s["Resource"]) for s in by_action["states:StartExecution"]] == [
        machine_arn]
    (listing,) = by_action["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{layout.MODELS}*"]}}


def test_the_packages_zip_holds_both_packages_and_the_same_sources_give_the_same_bytes(
        tmp_path: Path) -> None:
    first = package_zip(out=tmp_path / "a.zip").read_bytes()
    second = package_zip(out=tmp_path / "b.zip").read_bytes()
    assert first == second
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert {name.split("/", 1)[0] for name in names} == {s.name for s in PACKAGE_SOURCES} == {
        "recs", "recs_spark"}
    assert "recs/batch/pipeline.py" in names and "recs_spark/__init__.py" in names
    assert not [name for name in names if "__pycache__" in name or not name.endswith(".py")]


def test_spark_context_is_read_and_checked() -> None:
    settings = SparkSettings.from_context(App(context={
        "emr_max_vcpu": "400", "emr_idle_minutes": 5, "export_concurrency": "40",
        "emr_python_archive": "s3://shop-artefacts/recs/venv.tar.gz"}))
    assert (settings.emr_max_vcpu, settings.emr_idle_minutes, settings.export_concurrency) == (
        400, 5, 40)
    for context, named in (({"emr_max_vcpu": "lots"}, "emr_max_vcpu"),
                           ({"emr_idle_minutes": 0}, "emr_idle_minutes"),
                           ({"export_concurrency": 5000}, "export_concurrency"),
                           ({"emr_python_archive": "venv.tar.gz"}, "emr_python_archive")):
        with pytest.raises(ConfigError, match=named):
            SparkSettings.from_context(App(context=context))
