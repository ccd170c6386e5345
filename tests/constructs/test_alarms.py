"""EtlAlarms alone: an alarm per failure mode, every one acting on an encrypted topic."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import AlarmSpec, AlarmThresholds, ConfigurationError, EtlAlarms, EtlAlarmsProps


def _function(stack) -> lambda_.Function:
    return lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
        timeout=cdk.Duration.minutes(5),
    )


def _build(stack):
    fn = _function(stack)
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P"))
    )
    return EtlAlarms(
        stack,
        "Alarms",
        EtlAlarmsProps(
            functions=[fn],
            state_machine=machine,
            dead_letter_queues=[sqs.Queue(stack, "Dlq")],
            service_name="svc",
        ),
    )


@pytest.fixture(scope="module")
def template(synthesize):
    return synthesize(_build)[0]


@pytest.fixture(scope="module")
def alarms(template) -> dict:
    return {k: a["Properties"] for k, a in template.find_resources("AWS::CloudWatch::Alarm").items()}


def _by_metric(alarms: dict, metric: str) -> dict:
    (alarm,) = [a for a in alarms.values() if a.get("MetricName") == metric]
    return alarm


def test_one_alarm_per_failure_mode(alarms):
    assert sorted(a["MetricName"] for a in alarms.values()) == sorted(
        [
            "Errors",
            "Throttles",
            "Duration",
            "ExecutionsFailed",
            "ExecutionsTimedOut",
            "ExecutionThrottled",
            "ApproximateNumberOfMessagesVisible",
            "FilesRejected",
        ]
    )


def test_function_errors_alarm_on_the_first_error_not_five(alarms):
    alarm = _by_metric(alarms, "Errors")
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_duration_alarm_is_80_percent_of_the_timeout(alarms):
    assert _by_metric(alarms, "Duration")["Threshold"] == 0.8 * 300_000


def test_every_alarm_notifies_the_topic(alarms, template):
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]


def test_missing_data_is_not_breaching(alarms):
    for alarm in alarms.values():
        assert alarm["TreatMissingData"] == "notBreaching"


def test_rejected_files_alarm_reads_the_functions_metric(alarms):
    alarm = _by_metric(alarms, "FilesRejected")
    assert alarm["Namespace"] == "EtlPipeline"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "svc"}]


def _cloudwatch_statements(document: dict) -> list[dict]:
    return [s for s in document["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]


_ALARM_SOURCE = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":cloudwatch:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":alarm:*",
                ],
            ]
        }
    },
}


def test_topic_is_encrypted_with_a_rotated_customer_managed_key_cloudwatch_may_use(template):
    # alias/aws/sns cannot be used by CloudWatch: alarms on such a topic never notify.
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    (key_id, key), *others = template.find_resources("AWS::KMS::Key").items()
    assert not others
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    (statement,) = _cloudwatch_statements(key["Properties"]["KeyPolicy"])
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == _ALARM_SOURCE


def test_topic_policy_is_tls_only_and_lets_this_accounts_alarms_publish(template):
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    document = policy["Properties"]["PolicyDocument"]
    assert "aws:SecureTransport" in str(document)
    (statement,) = _cloudwatch_statements(document)
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == _ALARM_SOURCE


def test_the_pipeline_key_encrypts_the_topic_when_given(synthesize):
    def build(stack):
        key = kms.Key(stack, "PipelineKey", enable_key_rotation=True)
        EtlAlarms(stack, "Alarms", EtlAlarmsProps(functions=[_function(stack)], encryption_key=key))

    template, _ = synthesize(build)
    (key_id, key), *others = template.find_resources("AWS::KMS::Key").items()
    assert not others
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert len(_cloudwatch_statements(key["Properties"]["KeyPolicy"])) == 1


def test_a_topic_you_bring_is_used_as_is_with_a_warning(synthesize, find_warnings):
    def build(stack):
        topic = sns.Topic.from_topic_arn(stack, "Theirs", "arn:aws:sns:eu-west-1:111122223333:alerts")
        return EtlAlarms(stack, "Alarms", EtlAlarmsProps(functions=[_function(stack)], topic=topic))

    template, alarms = synthesize(build)
    assert not template.find_resources("AWS::SNS::Topic")
    assert not template.find_resources("AWS::KMS::Key")
    warnings = find_warnings(cdk.Stack.of(alarms), "sns:Publish")
    assert len(warnings) == 1


def test_dashboard_is_created(template):
    assert len(template.find_resources("AWS::CloudWatch::Dashboard")) == 1


def test_threshold_below_one_fails():
    with pytest.raises(ConfigurationError, match="at least 1"):
        AlarmThresholds(function_errors=AlarmSpec(threshold=0))


def test_datapoints_beyond_periods_fail():
    with pytest.raises(ConfigurationError, match="datapoints_to_alarm"):
        AlarmThresholds(executions_failed=AlarmSpec(evaluation_periods=1, datapoints_to_alarm=2))


def test_a_disabled_alarm_is_not_created(synthesize):
    def build(stack):
        fn = _function(stack)
        EtlAlarms(
            stack,
            "Alarms",
            EtlAlarmsProps(functions=[fn], thresholds=AlarmThresholds(function_throttles=AlarmSpec(enabled=False))),
        )

    template, _ = synthesize(build)
    metrics = [a["Properties"]["MetricName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()]
    assert "Throttles" not in metrics
