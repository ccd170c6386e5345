"""EtlPipeline with `encryption_key=`: every service that uses the key may, and every role uses only what it needs."""

from __future__ import annotations

import json

import pytest
from aws_cdk import aws_kms as kms

from etl_constructs import EtlPipeline, EtlPipelineProps


def _build(stack):
    key = kms.Key(stack, "PipelineKey", enable_key_rotation=True)
    return EtlPipeline(stack, "Pipeline", EtlPipelineProps(encryption_key=key))


@pytest.fixture(scope="module")
def template(synthesize):
    return synthesize(_build)[0]


@pytest.fixture(scope="module")
def key_policy(template) -> list[dict]:
    (key,) = template.find_resources("AWS::KMS::Key").values()
    return key["Properties"]["KeyPolicy"]["Statement"]


def _role_statements(template, role_prefix: str) -> list[dict]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"]):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _kms_actions(statements: list[dict]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        actions |= {a for a in listed if a.startswith("kms:")}
    return actions


def test_cloudwatch_logs_may_use_the_key_for_exactly_the_pipelines_log_groups(template, key_policy):
    (statement,) = [s for s in key_policy if s.get("Sid") == "AllowCloudWatchLogsForPipelineLogGroups"]
    assert statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}
    }
    arns = statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    names = sorted(g["Properties"]["LogGroupName"] for g in template.find_resources("AWS::Logs::LogGroup").values())
    assert sorted(a["Fn::Join"][1][-1].split("log-group:")[1] for a in arns) == names
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in group["Properties"]


def test_cloudwatch_alarms_may_use_the_key_of_their_topic(template, key_policy):
    (statement,) = [s for s in key_policy if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    (key_id,) = template.find_resources("AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("PipelineWorkflowValidateRole", {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}),
        ("PipelineWorkflowTransformRole", {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}),
        ("PipelineWorkflowStateMachineRole", {"kms:Decrypt", "kms:DescribeKey"}),
        ("PipelineWorkflowReconcilerRole", {"kms:Decrypt", "kms:DescribeKey"}),
    ],
)
def test_each_role_gets_only_the_key_actions_its_calls_make(template, role, expected):
    # No Encrypt or ReEncrypt*: no S3 or DynamoDB call of ours needs them.
    assert _kms_actions(_role_statements(template, role)) == expected


def test_no_role_gets_a_wildcard_key_action(template):
    for policy in template.find_resources("AWS::IAM::Policy").values():
        assert "kms:GenerateDataKey*" not in json.dumps(policy)
        assert "kms:ReEncrypt" not in json.dumps(policy)


def test_an_imported_key_gets_warnings_naming_what_its_policy_needs(synthesize, find_warnings):
    def build(stack):
        key = kms.Key.from_key_arn(stack, "Theirs", "arn:aws:kms:eu-west-1:111111111111:key/1234abcd")
        return EtlPipeline(stack, "Pipeline", EtlPipelineProps(encryption_key=key))

    _, pipeline = synthesize(build)
    assert find_warnings(pipeline.node.scope, "CloudWatch Logs")
    assert find_warnings(pipeline.node.scope, "CloudWatch alarms")
