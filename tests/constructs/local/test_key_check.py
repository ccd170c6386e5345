"""run-local's key-policy check: what the library generates passes, a statement AWS needs and lacks is refused."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_kms as kms

from etl_constructs import EtlPipeline, EtlPipelineProps
from etl_constructs.local import LocalPipeline, run_local
from etl_constructs.local.key_check import KeyPolicyError, check_key_policies
from etl_constructs.local.template import Template

Body = dict[str, Any]
ROOT_JOIN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
ROOT_STATEMENT = {"Effect": "Allow", "Principal": {"AWS": ROOT_JOIN}, "Action": "kms:*", "Resource": "*"}


@pytest.fixture(scope="module")
def customer_key_path(synthesize, tmp_path_factory) -> Path:
    """An EtlPipeline on a customer-managed key, synthesized once (its stack has an account and region)."""
    outdir = tmp_path_factory.mktemp("customer-key")

    def build(stack):
        key = kms.Key(stack, "PipelineKey", enable_key_rotation=True)
        return EtlPipeline(stack, "Pipeline", EtlPipelineProps(encryption_key=key))

    synthesize(build, outdir)
    return outdir / "TestStack.template.json"


def _copy(source: Path, folder: Path, edit: Callable[[Body], None] | None = None, assets: bool = False) -> Path:
    """The template at `source`, edited, in `folder` with the manifest (and with `assets`, the whole assembly)."""
    if assets:
        shutil.copytree(source.parent, folder)
    else:
        folder.mkdir(parents=True)
        shutil.copy(source.parent / "manifest.json", folder)
    body = json.loads(source.read_text())
    if edit is not None:
        edit(body)
    path = folder / source.name
    path.write_text(json.dumps(body))
    return path


def _load(source: Path, tmp_path: Path, edit: Callable[[Body], None] | None = None) -> Template:
    return Template.load(_copy(source, tmp_path / "assembly", edit))


def _of_type(body: Body, kind: str) -> dict[str, Body]:
    return {k: r for k, r in body["Resources"].items() if r["Type"] == kind}


def _key_id(body: Body) -> str:
    (key_id,) = _of_type(body, "AWS::KMS::Key")
    return key_id


def _statements(body: Body) -> list[Body]:
    statements: list[Body] = body["Resources"][_key_id(body)]["Properties"]["KeyPolicy"]["Statement"]
    return statements


def _drop(test: Callable[[Body], bool]) -> Callable[[Body], None]:
    """An edit removing the key-policy statements `test` picks (there must be one)."""

    def edit(body: Body) -> None:
        statements = _statements(body)
        kept = [s for s in statements if not test(s)]
        assert len(kept) < len(statements)
        statements[:] = kept

    return edit


def _logs(statement: Body) -> bool:
    return "logs." in json.dumps(statement["Principal"].get("Service"))


def _cloudwatch(statement: Body) -> bool:
    return statement["Principal"].get("Service") == "cloudwatch.amazonaws.com"


def _root(statement: Body) -> bool:
    return "AWS" in statement["Principal"]


def _refusal(template: Template) -> str:
    with pytest.raises(KeyPolicyError) as refused:
        check_key_policies(template)
    return str(refused.value)


def _lines(message: str) -> list[str]:
    return [line for line in message.splitlines() if line.startswith("  - ")]


# -- what the library generates passes -----------------------------------------------------------------


def _empty_policy(body: Body) -> None:
    _statements(body).clear()


def test_a_default_pipeline_passes(default_template_path, tmp_path):
    check_key_policies(Template.load(default_template_path))
    assert "cloudwatch.amazonaws.com needs" in _refusal(_load(default_template_path, tmp_path, _empty_policy))


def test_a_pipeline_on_a_customer_key_passes(customer_key_path, tmp_path):
    check_key_policies(Template.load(customer_key_path))
    message = _refusal(_load(customer_key_path, tmp_path, _empty_policy))
    assert "logs.us-east-1.amazonaws.com needs" in message
    assert "cloudwatch.amazonaws.com needs" in message


# -- a statement removed is refused, naming key, principal and action -----------------------------------


def test_without_the_logs_statement_each_encrypted_log_group_is_refused(customer_key_path, tmp_path):
    template = _load(customer_key_path, tmp_path, _drop(_logs))
    message = _refusal(template)
    key_id = _key_id(template.body)
    groups = _of_type(template.body, "AWS::Logs::LogGroup")
    assert len(_lines(message)) == len(groups) == 6  # two functions, two data-path machines, reconciler, sweep
    for line in _lines(message):
        assert f"key {key_id}" in line
        assert "logs.us-east-1.amazonaws.com needs kms:Encrypt*" in line
        assert "kms:GenerateDataKey*" in line
    assert all(f"log group {group} " in message for group in groups)


def test_a_log_group_outside_the_logs_condition_is_refused(customer_key_path, tmp_path):
    def narrow(body: Body) -> None:
        (statement,) = [s for s in _statements(body) if _logs(s)]
        arns = statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
        statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] = [
            a for a in arns if "ValidateLogs" not in json.dumps(a)
        ]

    (line,) = _lines(_refusal(_load(customer_key_path, tmp_path, narrow)))
    assert "log group PipelineWorkflowValidateLogs" in line
    assert "logs.us-east-1.amazonaws.com needs kms:Encrypt*" in line


def test_without_the_cloudwatch_statement_the_alarm_topic_is_refused(default_template_path, tmp_path):
    template = _load(default_template_path, tmp_path, _drop(_cloudwatch))
    (line,) = _lines(_refusal(template))
    assert f"key {_key_id(template.body)}" in line
    assert "cloudwatch.amazonaws.com needs kms:Decrypt, kms:GenerateDataKey" in line
    assert "alarms publish to topic PipelineAlarmsTopic" in line


def test_a_deny_for_cloudwatch_is_refused_even_with_the_allow(default_template_path, tmp_path):
    def deny(body: Body) -> None:
        principal = {"Service": "cloudwatch.amazonaws.com"}
        deny = {"Sid": "NoAlarms", "Effect": "Deny", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}
        _statements(body).append(deny)

    (line,) = _lines(_refusal(_load(default_template_path, tmp_path, deny)))
    assert "cloudwatch.amazonaws.com needs kms:Decrypt" in line
    assert "key-policy statement NoAlarms denies it" in line


def test_without_root_delegation_or_the_role_named_the_role_is_refused(customer_key_path, tmp_path):
    template = _load(customer_key_path, tmp_path, _drop(_root))
    message = _refusal(template)
    (role_id,) = [r for r in _of_type(template.body, "AWS::IAM::Role") if r.startswith("PipelineWorkflowValidateRole")]
    role_arn = template.get_att(role_id, "Arn")
    (line,) = [line for line in _lines(message) if f"{role_arn} needs" in line and "IAM policies grant" in line]
    assert f"key {_key_id(template.body)}" in line
    assert "kms:Decrypt" in line
    assert "neither names the role nor delegates that to IAM" in line


def _name_roles(*actions: str) -> Callable[[Body], None]:
    def edit(body: Body) -> None:
        _drop(_root)(body)
        roles = [{"Fn::GetAtt": [r, "Arn"]} for r in _of_type(body, "AWS::IAM::Role")]
        _statements(body).append(
            {"Effect": "Allow", "Principal": {"AWS": roles}, "Action": list(actions), "Resource": "*"}
        )

    return edit


def test_roles_named_in_the_key_policy_need_no_root_delegation(customer_key_path, tmp_path):
    everything = _name_roles("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
    check_key_policies(_load(customer_key_path, tmp_path / "all", everything))
    message = _refusal(_load(customer_key_path, tmp_path / "decrypt", _name_roles("kms:Decrypt")))
    assert "PipelineWorkflowTransformRole" in message
    assert "needs kms:GenerateDataKey, kms:DescribeKey (its IAM policies grant these" in message


def test_a_role_reading_an_sse_kms_bucket_without_a_kms_grant_is_refused(customer_key_path, tmp_path):
    def ungrant(body: Body) -> None:
        for policy_id, policy in _of_type(body, "AWS::IAM::Policy").items():
            if policy_id.startswith("PipelineWorkflowValidateRole"):
                statements = policy["Properties"]["PolicyDocument"]["Statement"]
                statements[:] = [s for s in statements if "kms:" not in json.dumps(s["Action"])]

    message = _refusal(_load(customer_key_path, tmp_path, ungrant))
    (line,) = [line for line in _lines(message) if "reads objects of bucket PipelineLandingRaw" in line]
    assert "PipelineWorkflowValidateRole" in line
    assert "needs kms:Decrypt" in line
    assert "its IAM policies do not grant that on the key" in line


def test_server_access_logs_to_an_sse_kms_bucket_are_refused(customer_key_path, tmp_path):
    def encrypt_logs_bucket(body: Body) -> None:
        (logs_id,) = [b for b in _of_type(body, "AWS::S3::Bucket") if b.startswith("PipelineLandingAccessLogs")]
        sse = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [_key_id(body), "Arn"]}}
        body["Resources"][logs_id]["Properties"]["BucketEncryption"] = {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": sse}]
        }

    message = _refusal(_load(customer_key_path, tmp_path, encrypt_logs_bucket))
    assert "bucket PipelineLandingRaw" in message
    assert "sends its server access logs to bucket PipelineLandingAccessLogs" in message
    assert "S3 does not deliver server access logs to such a bucket" in message


# -- hand-written templates ---------------------------------------------------------------------------------


def _template(tmp_path: Path, resources: Body, manifest: Body | None = None) -> Template:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "Hand.template.json"
    path.write_text(json.dumps({"Resources": resources}))
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return Template.load(path)


def _key(*statements: Body) -> Body:
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": list(statements)}},
        "Metadata": {"aws:cdk:path": "Hand/Key/Resource"},
    }


EVENTS_STATEMENT = {
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
}


def _dead_letter_resources(*key_statements: Body) -> Body:
    return {
        "Key": _key(ROOT_STATEMENT, *key_statements),
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {"source": ["aws.s3"]},
                "Targets": [
                    {
                        "Id": "Target0",
                        "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}},
                    }
                ],
            },
        },
    }


def test_an_encrypted_dead_letter_queue_needs_an_events_statement(tmp_path):
    (line,) = _lines(_refusal(_template(tmp_path / "without", _dead_letter_resources())))
    assert line.startswith(
        "  - key Key (Hand/Key/Resource): events.amazonaws.com needs kms:Decrypt, kms:GenerateDataKey"
    )
    assert "rule Rule uses as its dead-letter queue queue DeadLetters" in line
    check_key_policies(_template(tmp_path / "with", _dead_letter_resources(EVENTS_STATEMENT)))


def test_a_key_not_in_the_template_is_not_checked(tmp_path):
    imported = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    resources = {
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "g", "KmsKeyId": imported}},
        "Key": _key(ROOT_STATEMENT),
    }
    check_key_policies(_template(tmp_path / "imported", resources))
    resources["Group"]["Properties"]["KmsKeyId"] = {"Ref": "Key"}
    assert "log group Group" in _refusal(_template(tmp_path / "own", resources))


def test_the_stacks_own_region_comes_from_the_manifest(tmp_path):
    logs = {
        "Effect": "Allow",
        "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
    }
    group = {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}}
    resources = {"Key": _key(ROOT_STATEMENT, logs), "Group": group}
    assert "logs.us-east-1.amazonaws.com needs" in _refusal(_template(tmp_path / "lone", resources))
    manifest = {
        "artifacts": {
            "Hand": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://111111111111/eu-west-1",
                "properties": {"templateFile": "Hand.template.json"},
            }
        }
    }
    check_key_policies(_template(tmp_path, resources, manifest))


# -- the runner refuses before any file runs ------------------------------------------------------------------


def test_local_pipeline_refuses_a_bad_key_policy_before_any_file_runs(default_template_path, tmp_path):
    bad = _copy(default_template_path, tmp_path / "assembly", _drop(_cloudwatch), assets=True)
    csv = tmp_path / "a.csv"
    csv.write_text("transaction_id,amount,date,account_id\nt1,1.00,2024-03-01,a\n")
    out = tmp_path / "out"
    with pytest.raises(KeyPolicyError, match=r"cloudwatch\.amazonaws\.com needs kms:Decrypt"):
        run_local([csv], template=bad, out=out)
    assert not out.exists()
    with pytest.raises(KeyPolicyError), LocalPipeline(bad, out=out) as local:
        local.upload(csv, "a.csv")
    assert not out.exists()
