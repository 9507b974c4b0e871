"""The demo storefront in the cloud: ``web/`` in a private S3 bucket behind CloudFront.

The bucket is reachable only through the distribution (origin access control: CloudFront
signs its requests, the bucket policy admits only this distribution). The deployment copies
``web/`` and writes the two files the pages read from their own origin (see
``web/js/config.js``): ``config.json`` with the API's URL and key, from this stack, never
typed by hand; and ``catalog.json``, empty here (prices show as "Price on request": a shop's
own frontend knows its catalog; the demo's local server fills it from the sample shop).

The API key's value is not a CloudFormation attribute of ``AWS::ApiGateway::ApiKey`` (only
its id is), so a custom resource reads it at deploy time (``apigateway:GET`` on that one
key) and the deployment substitutes it into ``config.json``. Whatever key is given here is
public: anyone who opens the storefront can read it from ``config.json``.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.constructs_layers import REPO_ROOT
from infra.constructs_nag import acknowledge, arn_ref

WEB_DIR = REPO_ROOT / "web"
OUTPUT_ID = "StorefrontUrl"


class RecsStorefront(Construct):
    """Private bucket, CloudFront with OAC, the pages and their config.json, StorefrontUrl."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        api_key: apigw.IApiKey,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (WEB_DIR / "index.html").is_file():
            raise FileNotFoundError(f"{WEB_DIR} (the storefront's pages) is missing")
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="recs demo storefront",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        key_value = self._key_value(api_key)
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(WEB_DIR)),
                s3deploy.Source.json_data(
                    "config.json",
                    {"api_base": rest_api.url, "api_key": key_value, "shoppers": []},
                    escape=True,
                ),
                s3deploy.Source.json_data("catalog.json", {"items": []}),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/"
        output = CfnOutput(self, OUTPUT_ID, value=self.url,
                           description="The demo storefront (config.json names the API)")
        output.override_logical_id(OUTPUT_ID)
        self._acknowledge()

    def _key_value(self, api_key: apigw.IApiKey) -> str:
        """The key's value at deploy time: GetApiKey with includeValue, on this key only."""
        key_arn = f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/apikeys/{api_key.key_id}"
        call = cr.AwsSdkCall(
            service="APIGateway",
            action="getApiKey",
            parameters={"apiKey": api_key.key_id, "includeValue": True},
            physical_resource_id=cr.PhysicalResourceId.of(api_key.key_id),
            output_paths=["value"],  # only the value comes back as the resource's data
            logging=cr.Logging.with_data_hidden(),  # and stays out of the function's log
        )
        self.key_reader = cr.AwsCustomResource(
            self,
            "ApiKeyValue",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["apigateway:GET"], resources=[key_arn])]
            ),
            install_latest_aws_sdk=False,
            timeout=Duration.minutes(2),
        )
        return self.key_reader.get_response_field("value")

    def _acknowledge(self) -> None:
        public = (
            "The storefront is public static files (HTML, CSS, JavaScript, SVG) that anyone may "
            "read; they hold no data of the shop's shoppers."
        )
        acknowledge(self.bucket, "AwsSolutions-S1", public + " The bucket is written only by "
                    "the deployment and read only through CloudFront (origin access control).")
        acknowledge(self.distribution, "AwsSolutions-CFR1", public + " No geo restriction: a "
                    "shop chooses its markets.")
        acknowledge(self.distribution, "AwsSolutions-CFR2", public + " No WAF by default (its "
                    "monthly cost); the API it calls is throttled by its usage plan.")
        acknowledge(self.distribution, "AwsSolutions-CFR3", public + " CloudFront access logs "
                    "would need an ACL-enabled log bucket; the API's stage logs every call.")
        # The deployment's function (a CDK singleton: one per stack and memory size).
        copier = self.deployment.handler_role.node.scope
        assert copier is not None
        acknowledge(copier, "AwsSolutions-L1", "CDK's BucketDeployment handler: its runtime is "
                    "chosen by the CDK release, not by this app.")
        acknowledge(copier, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]", "CDK's BucketDeployment "
                    "handler writes its own log; the managed policy is CDK's choice.")
        for finding, why in (
            ("Action::s3:GetBucket*", "read the asset"),
            ("Action::s3:GetObject*", "read the asset"),
            ("Action::s3:List*", "list the asset and the storefront bucket"),
            ("Action::s3:Abort*", "upload the files"),
            ("Action::s3:DeleteObject*", "remove files no longer in web/"),
            ("Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
             "<AWS::Region>/*", "read its zip from the CDK assets bucket"),
            (f"Resource::{arn_ref(self.bucket)}/*", "write any page of the storefront"),
            ("Resource::*", "invalidate the distribution's cache (CloudFront's "
             "CreateInvalidation and GetInvalidation take no resource-level permission)"),
        ):
            acknowledge(copier, f"AwsSolutions-IAM5[{finding}]",
                        f"CDK's BucketDeployment grant, to {why}; limited to the CDK assets "
                        "bucket and this storefront's bucket.")
        # The custom resource's function (a CDK singleton too) reads the one key, nothing else.
        reader = self.key_reader.grant_principal
        assert isinstance(reader, iam.Role) and reader.node.scope is not None
        acknowledge(reader.node.scope, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::"
                    "aws:policy/service-role/AWSLambdaBasicExecutionRole]", "CDK's "
                    "AwsCustomResource provider writes its own log; its only other permission "
                    "is apigateway:GET on the storefront's API key.")
        acknowledge(self.distribution, "AwsSolutions-CFR4", "The distribution uses the default "
                    "*.cloudfront.net certificate, with which CloudFront allows TLSv1 on the "
                    "viewer side whatever minimum is set; a custom domain with its own "
                    "certificate takes TLS_V1_2_2021.")
