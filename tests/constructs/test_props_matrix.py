"""Every option in every partition: synthesizes, with no unacknowledged cdk-nag finding and a clean cfn-lint.

One synthesis per case; cdk-nag's packs run during it, cfn-lint reads its template.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks
from cfnlint.api import ManualArgs, lint_file
from constructs import Construct

from etl_constructs import EtlPipeline, EtlPipelineProps, LandingOptions
from etl_constructs.defaults import data_bucket_props, logs_bucket_props, use_log_delivery_policy
from etl_constructs.key_policies import cloudwatch_key_statement, cloudwatch_topic_statement
from etl_constructs.nag import acknowledge, acknowledge_bucket

ALLOWED_LINT = {"W3005"}
Case = Callable[[cdk.Stack], EtlPipelineProps]


def _default(stack: cdk.Stack) -> EtlPipelineProps:
    return EtlPipelineProps()


def _key(stack: cdk.Stack) -> kms.Key:
    return kms.Key(stack, "PipelineKey", enable_key_rotation=True)


def _encryption_key(stack: cdk.Stack) -> EtlPipelineProps:
    return EtlPipelineProps(encryption_key=_key(stack))


def _users_bucket(stack: Construct, name: str, logs: s3.IBucket) -> s3.Bucket:
    """A bucket a careful user would make: versioned, private, TLS only, access-logged."""
    kwargs = data_bucket_props(
        removal_policy=RemovalPolicy.RETAIN,
        auto_delete_objects=False,
        encryption_key=None,
        logs_bucket=logs,
        logs_prefix=f"{name}/",
        glacier_after_days=None,
        noncurrent_expire_days=30,
    )
    bucket = s3.Bucket(stack, name, **kwargs)
    acknowledge_bucket(bucket, kms=False)
    return bucket


def _own_buckets(stack: cdk.Stack) -> EtlPipelineProps:
    users = Construct(stack, "Users")
    use_log_delivery_policy(users)
    logs = s3.Bucket(users, "Logs", **logs_bucket_props(removal_policy=RemovalPolicy.RETAIN, auto_delete_objects=False))
    acknowledge_bucket(logs, kms=False, access_logs=True)
    return EtlPipelineProps(
        existing_raw_bucket=_users_bucket(users, "Raw", logs),
        existing_processed_bucket=_users_bucket(users, "Processed", logs),
        existing_quarantine_bucket=_users_bucket(users, "Quarantine", logs),
    )


def _own_topic(stack: cdk.Stack) -> EtlPipelineProps:
    # A topic you bring is used as it is: a careful user gives it what the warning names.
    key = _key(stack)
    key.add_to_resource_policy(cloudwatch_key_statement())
    topic = sns.Topic(stack, "UsersTopic", enforce_ssl=True, master_key=key)
    topic.add_to_resource_policy(cloudwatch_topic_statement(topic))
    return EtlPipelineProps(alarm_topic=topic)


def _express(stack: cdk.Stack) -> EtlPipelineProps:
    return EtlPipelineProps(
        state_machine_type=sfn.StateMachineType.EXPRESS,
        execution_timeout=Duration.minutes(5),
        validate_timeout=Duration.minutes(2),
        transform_timeout=Duration.minutes(2),
    )


def _input_prefix(stack: cdk.Stack) -> EtlPipelineProps:
    return EtlPipelineProps(input_prefix="incoming/")


def _archive(stack: cdk.Stack) -> EtlPipelineProps:
    return EtlPipelineProps(landing=LandingOptions(archive_retention=Duration.days(90)))


def _vpc(stack: cdk.Stack) -> EtlPipelineProps:
    vpc = ec2.Vpc(
        stack,
        "UsersVpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
        ],
        flow_logs={"all": ec2.FlowLogOptions()},
    )
    vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
    vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
    for finding in (
        "PCI.DSS.321::PCI.DSS.321-CloudWatchLogGroupEncrypted",
        "PCI.DSS.321::PCI.DSS.321-IAMNoInlinePolicy",
        "PCI.DSS.321::PCI.DSS.321-VPCDefaultSecurityGroupClosed",
    ):
        acknowledge(vpc, finding, "the user's own VPC, outside the pipeline")
    return EtlPipelineProps(vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))


CASES: dict[str, tuple[Case, cdk.Environment | None]] = {
    "default": (_default, cdk.Environment(account="111111111111", region="eu-west-1")),
    "encryption_key": (_encryption_key, cdk.Environment(account="111111111111", region="eu-west-1")),
    "own_buckets": (_own_buckets, cdk.Environment(account="111111111111", region="eu-west-1")),
    "own_topic": (_own_topic, cdk.Environment(account="111111111111", region="eu-west-1")),
    "express": (_express, cdk.Environment(account="111111111111", region="eu-west-1")),
    "input_prefix": (_input_prefix, cdk.Environment(account="111111111111", region="eu-west-1")),
    "archive": (_archive, cdk.Environment(account="111111111111", region="cn-north-1")),
    "vpc": (_vpc, None),  # env-agnostic: the AZs come from Fn::GetAZs, not dummies
    "cn-north-1": (_encryption_key, cdk.Environment(account="111111111111", region="cn-north-1")),
    "us-gov-west-1": (_encryption_key, cdk.Environment(account="111111111111", region="us-gov-west-1")),
    "eu-central-1": (_default, cdk.Environment(account="111111111111", region="eu-central-1")),
    "env-agnostic": (_encryption_key, None),
}


def _packs() -> list[object]:
    from etl_constructs.deploy_checks import EtlDeployChecks

    return [AwsSolutionsChecks(), ServerlessChecks(), PCIDSS321Checks(), EtlDeployChecks()]


def _findings(outdir: Path) -> list[str]:
    report = outdir / "validation-report.json"
    if not report.exists():
        return []
    return sorted(
        f"{v['ruleName']} {c['constructPath']}"
        for plugin in json.loads(report.read_text())["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    )


@pytest.fixture(scope="module", params=sorted(CASES))
def synthesized(request, tmp_path_factory) -> tuple[str, Path, list[str], str | None]:
    name = request.param
    case, env = CASES[name]
    outdir = tmp_path_factory.mktemp(name)
    app = cdk.App(outdir=str(outdir))
    cdk.Validations.of(app).add_plugins(*_packs())
    stack = cdk.Stack(app, "Matrix", env=env)
    EtlPipeline(stack, "Pipeline", case(stack))
    try:
        app.synth()
    except Exception:
        if not (outdir / "validation-report.json").exists():
            raise
    region = env.region if env is not None else None
    return name, outdir, _findings(outdir), region


def test_synthesizes_with_no_unacknowledged_finding(synthesized):
    name, _, findings, _ = synthesized
    assert findings == [], name


def test_cfn_lint_reports_nothing_but_w3005(synthesized):
    name, outdir, _, region = synthesized
    config = ManualArgs(regions=[region]) if region else None
    messages = [f"{m.rule.id} {m.message}" for m in lint_file(outdir / "Matrix.template.json", config)]
    assert [m for m in messages if m.split()[0] not in ALLOWED_LINT] == [], name


def test_no_partition_is_written_down(synthesized):
    name, outdir, _, _ = synthesized
    text = (outdir / "Matrix.template.json").read_text()
    assert "arn:aws" not in text, name
