"""EtlPipeline's helpers: its metrics, grants (KMS included) and alarm destinations."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from etl_constructs import ConfigurationError, EtlPipeline, EtlPipelineProps


@pytest.fixture(scope="module")
def built() -> tuple[assertions.Template, EtlPipeline]:
    app = cdk.App()
    stack = cdk.Stack(app, "Helpers")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    pipeline = EtlPipeline(stack, "Pipeline", EtlPipelineProps(encryption_key=key, input_prefix="in/"))
    for name, grant in (
        ("Uploader", pipeline.grant_upload),
        ("Reader", pipeline.grant_read_output),
        ("Auditor", pipeline.grant_read_ledger),
    ):
        grant(iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal()))
    slack = chatbot.SlackChannelConfiguration(
        stack, "Slack", slack_channel_configuration_name="etl", slack_workspace_id="T0", slack_channel_id="C0"
    )
    pipeline.notify(emails=["ops@example.com"], chat=[slack])
    return assertions.Template.from_stack(stack), pipeline


def _actions(template: assertions.Template, role: str) -> tuple[set[str], str]:
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        if any(r["Ref"].startswith(role) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    return actions, json.dumps(statements)


def test_upload_is_granted_under_the_input_prefix_with_the_key(built):
    actions, text = _actions(built[0], "Uploader")
    assert "s3:PutObject" in actions and "kms:GenerateDataKey*" in actions
    assert "/in/*" in text and "s3:GetObject" not in actions


def test_reading_output_is_granted_under_the_output_prefix_with_the_key(built):
    actions, text = _actions(built[0], "Reader")
    assert "s3:GetObject*" in actions and "kms:Decrypt" in actions
    assert "/processed/*" in text and "s3:PutObject" not in actions


def test_reading_the_ledger_includes_its_index_and_key(built):
    actions, text = _actions(built[0], "Auditor")
    assert {"dynamodb:Query", "dynamodb:GetItem", "kms:Decrypt"} <= actions
    assert "/index/*" in text and "dynamodb:PutItem" not in actions


def test_metrics_carry_the_functions_namespace_and_service(built):
    _, pipeline = built
    metric = pipeline.metric_files_rejected()
    assert (metric.namespace, metric.metric_name) == ("EtlPipeline", "FilesRejected")
    assert metric.dimensions == {"service": pipeline.workflow.service_name}
    assert pipeline.metric_rows_rejected().metric_name == "RowsRejected"
    assert pipeline.metric_files_completed(period=cdk.Duration.hours(1)).period.to_seconds() == 3600


def test_alarms_reach_email_and_chat(built):
    template = built[0]
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
    (slack,) = template.find_resources("AWS::Chatbot::SlackChannelConfiguration").values()
    assert slack["Properties"]["SnsTopicArns"]


def test_a_malformed_address_is_refused():
    pipeline = EtlPipeline(cdk.Stack(cdk.App(), "Bad"), "Pipeline")
    with pytest.raises(ConfigurationError, match="not an e-mail address"):
        pipeline.notify(emails=["ops.example.com"])
