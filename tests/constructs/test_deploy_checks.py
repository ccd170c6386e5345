"""EtlDeployChecks: every rule fires on a deliberately broken stack and stays quiet on its fixed twin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagRuleCompliance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_constructs import EtlPipeline, EtlPipelineProps
from etl_constructs.deploy_checks import _RULES, PACK_NAME, RULE_IDS, EtlDeployChecks

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
Finding = tuple[str, str]  # (rule id, construct path)


def _rule(name: str) -> str:
    return f"{PACK_NAME}-{name}"


def _report(app: cdk.App, outdir: Path) -> dict[str, Any]:
    """Synthesize with the pack; CDK's validation report (empty when nothing was found)."""
    try:
        app.synth()
    except Exception:
        return json.loads((outdir / "validation-report.json").read_text())
    return {"pluginReports": []}


def _ours(report: dict[str, Any]) -> list[dict[str, Any]]:
    # CDK adds its own "CloudFormation Validate" plugin report beside the packs'.
    return [plugin for plugin in report["pluginReports"] if plugin["pluginName"] == PACK_NAME]


def _findings(report: dict[str, Any]) -> set[Finding]:
    return {
        (v["ruleName"], c["constructPath"])
        for plugin in _ours(report)
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    }


def _with_pack(outdir: Path) -> cdk.App:
    app = cdk.App(outdir=str(outdir))
    cdk.Validations.of(app).add_plugins(EtlDeployChecks(app))
    return app


def _metric() -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace="Test", metric_name="Errors")


def _alarm_on(stack: cdk.Stack, topic: sns.ITopic) -> None:
    alarm = cloudwatch.Alarm(stack, "Alarm", metric=_metric(), threshold=1, evaluation_periods=1)
    alarm.add_alarm_action(cw_actions.SnsAction(topic))


# --- KmsServicePrincipal ------------------------------------------------------------------------------


def logs_key_without_logs_principal(stack: cdk.Stack) -> None:
    logs.LogGroup(stack, "Logs", encryption_key=kms.Key(stack, "Key"))


def logs_key_with_logs_principal(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key")
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{cdk.Aws.PARTITION}:logs:*"}},
        )
    )
    logs.LogGroup(stack, "Logs", encryption_key=key)


def alarm_topic_key_without_cloudwatch(stack: cdk.Stack) -> None:
    _alarm_on(stack, sns.Topic(stack, "Topic", master_key=kms.Key(stack, "Key")))


def alarm_topic_key_with_cloudwatch(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key")
    key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
    _alarm_on(stack, sns.Topic(stack, "Topic", master_key=key))


def rule_queue_key_without_events(stack: cdk.Stack) -> None:
    # The L1 rule grants nothing: the queue's key never hears of EventBridge.
    queue = sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=kms.Key(stack, "Key"))
    events.CfnRule(
        stack,
        "Rule",
        event_pattern={"source": ["custom.test"]},
        targets=[events.CfnRule.TargetProperty(arn=queue.queue_arn, id="Queue")],
    )


def rule_queue_key_with_events(stack: cdk.Stack) -> None:
    # The L2 target grants events.amazonaws.com on the queue's key (kms:Decrypt, kms:GenerateDataKey*...).
    queue = sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=kms.Key(stack, "Key"))
    events.Rule(
        stack,
        "Rule",
        event_pattern=events.EventPattern(source=["custom.test"]),
        targets=[targets.SqsQueue(queue)],
    )


# --- AlarmTopicAwsManagedKey --------------------------------------------------------------------------


def alarm_topic_on_managed_alias(stack: cdk.Stack) -> None:
    managed = kms.Alias.from_alias_name(stack, "Managed", "alias/aws/sns")
    _alarm_on(stack, sns.Topic(stack, "Topic", master_key=managed))


def alarm_topic_on_managed_alias_arn(stack: cdk.Stack) -> None:
    arn = stack.format_arn(service="kms", resource="alias", resource_name="aws/sns")
    _alarm_on(stack, sns.Topic(stack, "Topic", master_key=kms.Key.from_key_arn(stack, "Managed", arn)))


def alarm_topic_on_customer_key(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key")
    key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
    _alarm_on(stack, sns.Topic(stack, "Topic", master_key=key))


# --- StateMachineLogGroupName -------------------------------------------------------------------------


def _machine_logging_to(stack: cdk.Stack, log_group: logs.ILogGroup) -> None:
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Pass")),
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
    )


def machine_logs_to_unnamed_group(stack: cdk.Stack) -> None:
    _machine_logging_to(stack, logs.LogGroup(stack, "Logs"))


def machine_logs_to_custom_name(stack: cdk.Stack) -> None:
    _machine_logging_to(stack, logs.LogGroup(stack, "Logs", log_group_name="/etl/machine"))


def machine_logs_to_vended_name(stack: cdk.Stack) -> None:
    _machine_logging_to(stack, logs.LogGroup(stack, "Logs", log_group_name="/aws/vendedlogs/states/etl-machine"))


# --- HardCodedPartition -------------------------------------------------------------------------------


def role_with_literal_managed_policy_arn(stack: cdk.Stack) -> None:
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    iam.Role(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_managed_policy_arn(stack, "Basic", basic)],
    )


def policy_with_partition_split_across_join(stack: cdk.Stack) -> None:
    resource = {"Fn::Join": ["", ["arn:", "aws-cn", ":s3:::", {"Ref": "AWS::AccountId"}, "-bucket/*"]]}
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
    cdk.CfnResource(
        stack,
        "Policy",
        type="AWS::IAM::ManagedPolicy",
        properties={"PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}},
    )


def topic_with_overridden_literal_arn(stack: cdk.Stack) -> None:
    # An escape hatch: the synthesized template, not the construct's props, is what is checked.
    topic = sns.Topic(stack, "Topic")
    cfn = topic.node.default_child
    assert isinstance(cfn, sns.CfnTopic)
    cfn.add_property_override("KmsMasterKeyId", "arn:aws-us-gov:kms:us-gov-west-1:111111111111:alias/etl")


def role_with_partition_aware_arns(stack: cdk.Stack) -> None:
    iam.Role(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")],
    )
    key_arn = f"arn:{cdk.Aws.PARTITION}:kms:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:alias/etl"
    sns.Topic(stack, "Topic", master_key=kms.Key.from_key_arn(stack, "Key", key_arn))


# --- RuleMatchesOwnWrites -----------------------------------------------------------------------------


def _object_created_rule(stack: cdk.Stack, bucket: s3.IBucket, key_filter: list[Any] | None) -> None:
    detail: dict[str, Any] = {"bucket": {"name": [bucket.bucket_name]}}
    if key_filter is not None:
        detail["object"] = {"key": key_filter}
    pattern = events.EventPattern(source=["aws.s3"], detail_type=["Object Created"], detail=detail)
    events.Rule(stack, "Rule", event_pattern=pattern)


def _writer(stack: cdk.Stack, bucket: s3.IBucket, keys: str) -> None:
    bucket.grant_put(iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")), keys)


def rule_prefix_covers_written_prefix(stack: cdk.Stack) -> None:
    bucket = s3.Bucket(stack, "Bucket", event_bridge_enabled=True)
    _object_created_rule(stack, bucket, [{"prefix": "incoming/"}])
    _writer(stack, bucket, "incoming/rejected/*")


def rule_suffix_only_and_any_write(stack: cdk.Stack) -> None:
    bucket = s3.Bucket(stack, "Bucket", event_bridge_enabled=True)
    _object_created_rule(stack, bucket, [{"suffix": ".csv"}])
    _writer(stack, bucket, "processed/*")


def rule_wildcard_under_written_prefix(stack: cdk.Stack) -> None:
    bucket = s3.Bucket(stack, "Bucket", event_bridge_enabled=True)
    _object_created_rule(stack, bucket, [{"wildcard": "out/*/report.json"}])
    _writer(stack, bucket, "*")


def rule_prefix_apart_from_written_prefix(stack: cdk.Stack) -> None:
    bucket = s3.Bucket(stack, "Bucket", event_bridge_enabled=True)
    _object_created_rule(stack, bucket, [{"prefix": "incoming/"}, {"wildcard": "landing/*.csv"}])
    _writer(stack, bucket, "processed/*")


# --- The cases ----------------------------------------------------------------------------------------

Builder = Callable[[cdk.Stack], None]

# rule -> stack builders where it must fire (with the construct it fires on), and where it must not.
BROKEN: dict[str, list[tuple[Builder, str]]] = {
    "KmsServicePrincipal": [
        (logs_key_without_logs_principal, "Key/Resource"),
        (alarm_topic_key_without_cloudwatch, "Key/Resource"),
        (rule_queue_key_without_events, "Key/Resource"),
    ],
    "AlarmTopicAwsManagedKey": [
        (alarm_topic_on_managed_alias, "Topic/Resource"),
        (alarm_topic_on_managed_alias_arn, "Topic/Resource"),
    ],
    "StateMachineLogGroupName": [
        (machine_logs_to_unnamed_group, "Machine/Resource"),
        (machine_logs_to_custom_name, "Machine/Resource"),
    ],
    "HardCodedPartition": [
        (role_with_literal_managed_policy_arn, "Role/Resource"),
        (policy_with_partition_split_across_join, "Policy"),
        (topic_with_overridden_literal_arn, "Topic/Resource"),
    ],
    "RuleMatchesOwnWrites": [
        (rule_prefix_covers_written_prefix, "Rule/Resource"),
        (rule_suffix_only_and_any_write, "Rule/Resource"),
        (rule_wildcard_under_written_prefix, "Rule/Resource"),
    ],
}
FIXED: dict[str, list[Builder]] = {
    "KmsServicePrincipal": [logs_key_with_logs_principal, alarm_topic_key_with_cloudwatch, rule_queue_key_with_events],
    "AlarmTopicAwsManagedKey": [alarm_topic_on_customer_key],
    "StateMachineLogGroupName": [machine_logs_to_vended_name],
    "HardCodedPartition": [role_with_partition_aware_arns],
    "RuleMatchesOwnWrites": [rule_prefix_apart_from_written_prefix],
}


def _stack_name(builder: Builder) -> str:
    return "".join(part.capitalize() for part in builder.__name__.split("_"))


def acknowledged_literal_arn(stack: cdk.Stack) -> None:
    role_with_literal_managed_policy_arn(stack)
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(id=f"{PACK_NAME}::{_rule('HardCodedPartition')}", reason="test: acknowledged")
    )


def intrinsics_everywhere(stack: cdk.Stack) -> None:
    """Values no rule can know at synth: every rule must pass over them without a finding or an error."""
    cond = cdk.CfnCondition(stack, "Maybe", expression=cdk.Fn.condition_equals(cdk.Aws.REGION, "eu-west-1"))
    imported = {"Fn::ImportValue": "elsewhere"}
    either = {"Fn::If": [cond.logical_id, "a", {"Ref": "AWS::NoValue"}]}
    cdk.CfnResource(stack, "Key", type="AWS::KMS::Key", properties={"KeyPolicy": either})
    cdk.CfnResource(stack, "Logs", type="AWS::Logs::LogGroup", properties={"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})
    cdk.CfnResource(stack, "Topic", type="AWS::SNS::Topic", properties={"KmsMasterKeyId": either})
    cdk.CfnResource(
        stack,
        "Alarm",
        type="AWS::CloudWatch::Alarm",
        properties={"AlarmActions": {"Fn::Split": [",", imported]}, "OKActions": [{"Ref": "Topic"}, either]},
    )
    cdk.CfnResource(
        stack,
        "Machine",
        type="AWS::StepFunctions::StateMachine",
        properties={
            "LoggingConfiguration": {
                "Level": either,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": imported}}, either],
            }
        },
    )
    cdk.CfnResource(
        stack,
        "Rule",
        type="AWS::Events::Rule",
        properties={"EventPattern": {"source": ["aws.s3"], "detail": {"bucket": {"name": [imported]}}}},
    )
    cdk.CfnResource(
        stack,
        "Policy",
        type="AWS::IAM::Policy",
        properties={
            "PolicyName": "p",
            "PolicyDocument": {"Statement": [either, {"Effect": "Allow", "Action": either, "Resource": imported}]},
        },
    )


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[Finding], dict[str, Any], Path]:
    """One app holding every control stack, synthesized once with the pack: findings, report, assembly."""
    outdir = tmp_path_factory.mktemp("deploy-checks")
    app = _with_pack(outdir)
    builders = [b for cases in BROKEN.values() for b, _ in cases] + [b for fixed in FIXED.values() for b in fixed]
    for builder in [*dict.fromkeys(builders), acknowledged_literal_arn, intrinsics_everywhere]:
        builder(cdk.Stack(app, _stack_name(builder), env=ENV))
    report = _report(app, outdir)
    return _findings(report), report, outdir


def test_the_pack_reports_under_its_own_name(findings):
    _, report, _ = findings
    assert len(_ours(report)) == 1
    assert set(RULE_IDS) == {_rule(name) for name in BROKEN}


@pytest.mark.parametrize(
    ("rule", "builder", "construct"),
    [(rule, builder, construct) for rule, cases in BROKEN.items() for builder, construct in cases],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_the_rule_fires_on_the_broken_stack(findings, rule, builder, construct):
    assert (_rule(rule), f"{_stack_name(builder)}/{construct}") in findings[0]


@pytest.mark.parametrize(
    ("rule", "builder"),
    [(rule, builder) for rule, fixed in FIXED.items() for builder in fixed],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_the_rule_is_quiet_on_the_fixed_stack(findings, rule, builder):
    assert [f for f in findings[0] if f[1].startswith(f"{_stack_name(builder)}/")] == []
    # Quiet because it found the stack compliant, not because it found nothing to check.
    resources = json.loads((findings[2] / f"{_stack_name(builder)}.template.json").read_text())["Resources"]
    (check,) = [spec.check for spec in _RULES if spec.suffix == rule]
    verdicts = {check(resources, logical_id) for logical_id in resources}
    assert NagRuleCompliance.COMPLIANT in verdicts


def test_an_acknowledged_finding_is_not_reported(findings):
    assert [f for f in findings[0] if f[1].startswith("AcknowledgedLiteralArn/")] == []


def test_unknowable_values_give_no_finding_and_no_rule_error(findings):
    found, report, _ = findings
    assert [f for f in found if f[1].startswith("IntrinsicsEverywhere/")] == []
    descriptions = [v["description"] for p in _ours(report) for v in p["violations"]]
    assert not any("Rule threw an error" in d for d in descriptions)


def test_validate_scope_checks_an_unsynthesized_tree():
    # cdk-nag's direct entry point: each stack's synthesizer writes its template into a scratch folder.
    app = cdk.App()
    role_with_literal_managed_policy_arn(cdk.Stack(app, "Direct", env=ENV))
    report = EtlDeployChecks().validate_scope(app)
    assert [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations] == [
        (_rule("HardCodedPartition"), ["Direct/Role/Resource"])
    ]


# --- The pack on the library's own pipeline ------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("deploy-checks-pipeline")
    app = _with_pack(outdir)
    EtlPipeline(cdk.Stack(app, "Default", env=ENV), "Pipeline")
    keyed = cdk.Stack(app, "Keyed", env=ENV)
    EtlPipeline(keyed, "Pipeline", EtlPipelineProps(encryption_key=kms.Key(keyed, "Key")))
    return _report(app, outdir)


def test_the_pipeline_passes_the_pack(pipeline_report):
    for plugin in _ours(pipeline_report):
        assert "error" not in (plugin.get("metadata") or {}), plugin["metadata"]
    assert _findings(pipeline_report) == set()


# --- The checks on arbitrary templates -----------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.sampled_from(["*", "R0", "R1"]))
_intrinsics = st.sampled_from(["Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub", "Fn::If", "Fn::Select", "Fn::Split"])
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=8), _intrinsics), inner, max_size=3),
    ),
    max_leaves=12,
)
_types = st.sampled_from(
    [
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::S3::Bucket",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::StepFunctions::StateMachine",
    ]
)
_properties = st.dictionaries(
    st.sampled_from(
        [
            "KeyPolicy",
            "KmsKeyId",
            "KmsMasterKeyId",
            "AlarmActions",
            "Targets",
            "EventPattern",
            "PolicyDocument",
            "Policies",
            "LoggingConfiguration",
            "LogGroupName",
            "BucketName",
            "TargetKeyId",
        ]
    ),
    _values,
    max_size=4,
)
_templates = st.dictionaries(
    st.sampled_from(["R0", "R1", "R2"]),
    st.fixed_dictionaries({"Type": _types, "Properties": st.one_of(_properties, _values)}),
    min_size=1,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_templates)
def test_no_check_raises_on_any_template(resources):
    for spec in _RULES:
        for logical_id in resources:
            spec.check(resources, logical_id)
