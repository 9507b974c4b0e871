"""The demo storefront in the stack, read as a spec: a private bucket that only its
CloudFront distribution may read (origin access control), the pages deployed with a
config.json built from the stack's own API URL and key, and the StorefrontUrl output."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, AssetStaging
from aws_cdk.assertions import Template

from infra.constructs_storefront import OUTPUT_ID, WEB_DIR
from infra.stack import RecsStack

pytestmark = pytest.mark.infra

def _one(template: Template, kind: str, logical_prefix: str = "") -> tuple[str, dict[str, Any]]:
    (found,) = [(logical_id, resource) for logical_id, resource
                in template.find_resources(kind).items() if logical_id.startswith(logical_prefix)]
    return found


def _ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def test_the_storefront_bucket_is_private_encrypted_and_tls_only(template: Template) -> None:
    bucket_id, bucket = _one(template, "AWS::S3::Bucket", "Storefront")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert "WebsiteConfiguration" not in props, "no S3 website endpoint: CloudFront only"
    _, policy = _one(template, "AWS::S3::BucketPolicy", "Storefront")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert policy["Properties"]["Bucket"] == _ref(bucket_id)
    assert any(s["Effect"] == "Deny" and s["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}} for s in statements)
    # The only reader: CloudFront, on behalf of this one distribution.
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution", "Storefront")
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert _ref(distribution_id) in allow["Condition"]["StringEquals"]["AWS:SourceArn"][
        "Fn::Join"][1]


def test_cloudfront_reads_the_bucket_through_origin_access_control(template: Template) -> None:
    oac_id, oac = _one(template, "AWS::CloudFront::OriginAccessControl", "Storefront")
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"],
            config["SigningProtocol"]) == ("s3", "always", "sigv4")
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "Storefront")
    _, distribution = _one(template, "AWS::CloudFront::Distribution", "Storefront")
    settings = distribution["Properties"]["DistributionConfig"]
    (origin,) = settings["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}, "no legacy OAI"
    assert settings["DefaultRootObject"] == "index.html"
    behaviour = settings["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert "ResponseHeadersPolicyId" in behaviour


def test_the_deployment_copies_web_and_writes_config_from_the_stack(
    synthesized: tuple[App, RecsStack], template: Template,
) -> None:
    _, deployment = _one(template, "Custom::CDKBucketDeployment")
    props = deployment["Properties"]
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "Storefront")
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution", "Storefront")
    assert props["DestinationBucketName"] == _ref(bucket_id)
    assert (props["DistributionId"], props["DistributionPaths"]) == (
        _ref(distribution_id), ["/*"]), "a deploy invalidates the cached pages"
    assert props["Prune"] is True
    # Three sources: web/ itself, config.json, catalog.json.
    assert len(props["SourceObjectKeys"]) == 3
    stack = synthesized[1]
    assert str(WEB_DIR) in _asset_paths(stack)
    # config.json's markers: the API's URL (its RestApi and stage) and the key's value,
    # read at deploy time by the custom resource (it is no CloudFormation attribute).
    (markers,) = [m for m in props["SourceMarkers"] if m]
    api_base, api_key = (json.dumps(v) for v in markers.values())
    rest_api_id, _ = _one(template, "AWS::ApiGateway::RestApi")
    assert json.dumps(_ref(rest_api_id)) in api_base
    reader_id, _ = _one(template, "Custom::AWS", "Storefront")
    assert json.dumps({"Fn::GetAtt": [reader_id, "value"]}) in api_key


def test_the_key_is_read_by_get_api_key_on_that_key_alone(template: Template) -> None:
    key_id, _ = _one(template, "AWS::ApiGateway::ApiKey", "ApiStorefrontKey")  # public
    _, reader = _one(template, "Custom::AWS", "Storefront")
    create = json.dumps(reader["Properties"]["Create"])
    for text in ("getApiKey", "includeValue", '\\"outputPaths\\":[\\"value\\"]',
                 json.dumps(_ref(key_id))):
        assert text in create, text
    _, policy = _one(template, "AWS::IAM::Policy", "StorefrontApiKeyValue")
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "apigateway:GET"
    assert statement["Resource"]["Fn::Join"][1][-2:] == ["::/apikeys/", _ref(key_id)]


def test_the_stack_outputs_the_storefront_url(template: Template) -> None:
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution", "Storefront")
    output = template.to_json()["Outputs"][OUTPUT_ID]
    assert output["Value"] == {"Fn::Join": ["", [
        "https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}, "/"]]}


def _asset_paths(stack: RecsStack) -> set[str]:
    """The local paths of the stack's file assets (asset staging is off in these tests)."""
    return {child.source_path for child in stack.node.find_all()
            if isinstance(child, AssetStaging)}
