"""Every field of every props and options class, set through EtlPipeline, reaches the synthesized template.

Four pipelines in one stack hold a non-default value for every field (the ones that exclude each other
are in different pipelines); CHECKS says, for each field, where its value shows in the template. A field
without a check fails `test_every_field_has_a_check`, and a part's field that no EtlPipelineProps field
feeds fails `test_every_part_field_is_fed_or_wired`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, RemovalPolicy, assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import (
    AlarmSpec,
    AlarmThresholds,
    DataSettings,
    EtlAlarmsProps,
    EtlPipeline,
    EtlPipelineProps,
    LandingOptions,
    ProcessingLedgerProps,
    RawLandingProps,
    RetryPolicy,
    ValidateTransformWorkflowProps,
    WorkflowOptions,
)
from etl_constructs.pipeline_props import ALARMS_SOURCES, LANDING_SOURCES, WIRED, WORKFLOW_SOURCES
from etl_handlers.core.schema import Schema

#: EtlPipelineProps fields that hold a whole settings class: each of that class's fields is checked.
COMPOSITE = {
    "data": DataSettings,
    "landing": LandingOptions,
    "ledger": ProcessingLedgerProps,
    "workflow": WorkflowOptions,
    "alarm_thresholds": AlarmThresholds,
}
DATA = DataSettings(
    suffixes=(".csv", ".json"),
    required_fields=("transaction_id", "amount", "date"),
    fee_rate="1.25",
    rounding="ROUND_HALF_EVEN",
    default_currency="EUR",
    max_errors=10,
    max_record_bytes=2048,
    allow_fee_rate_above_one=True,
    any_currency=True,
    control_totals=True,
    control_wait=cdk.Duration.minutes(20),
    control_check_interval=cdk.Duration.minutes(2),
)
OWN_SCHEMA = {"fields": {"amount": {"type": "decimal", "required": True}, "memo": {"type": "string", "max_length": 9}}}


def _everything(stack: cdk.Stack) -> EtlPipelineProps:
    key = kms.Key(stack, "EverythingKey", enable_key_rotation=True)
    logs_bucket = s3.Bucket(stack, "UserLogs", versioned=True, enforce_ssl=True)
    return EtlPipelineProps(
        data=DATA,
        input_prefix="in/",
        removal_policy=RemovalPolicy.DESTROY,
        auto_delete_objects=True,
        encryption_key=key,
        raw_bucket_props={"bucket_name": "everything-raw"},
        processed_bucket_props={"bucket_name": "everything-processed"},
        existing_logs_bucket=logs_bucket,
        validate_memory_mb=512,
        transform_memory_mb=2048,
        validate_timeout=Duration.minutes(4),
        transform_timeout=Duration.minutes(10),
        execution_timeout=Duration.minutes(50),
        log_retention=logs.RetentionDays.ONE_MONTH,
        reserved_concurrency=7,
        retry=RetryPolicy(
            interval=Duration.seconds(3), backoff_rate=1.5, max_attempts=4, max_delay=Duration.seconds(30)
        ),
        throttle_retry=RetryPolicy(interval=Duration.seconds(7), max_attempts=6, max_delay=Duration.seconds(40)),
        function_props={"description": "everything"},
        state_machine_props={"state_machine_name": "everything-etl"},
        dead_letter_queue_props={"retention_period": Duration.days(7)},
        alarm_topic_props={"topic_name": "everything-alarms"},
        alarm_thresholds=AlarmThresholds(
            function_errors=AlarmSpec(threshold=2),
            function_throttles=AlarmSpec(threshold=3),
            function_duration_percent=AlarmSpec(threshold=70),
            executions_failed=AlarmSpec(threshold=4),
            executions_timed_out=AlarmSpec(threshold=5),
            executions_throttled=AlarmSpec(enabled=False),
            dead_letter_messages=AlarmSpec(threshold=7),
            files_rejected=AlarmSpec(
                threshold=8, period=Duration.minutes(10), evaluation_periods=3, datapoints_to_alarm=2
            ),
            unsettled_files=AlarmSpec(threshold=9),
        ),
        dashboard_name="everything-dash",
        landing=LandingOptions(
            quarantine_prefix="rejected/",
            glacier_after_days=30,
            noncurrent_version_expiration_days=45,
            event_retry_attempts=3,
            event_max_age=Duration.hours(2),
            archive_retention=Duration.days(30),
        ),
        ledger=ProcessingLedgerProps(
            point_in_time_recovery=False,
            table_name="everything-ledger",
            table_props={"table_class": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS},
        ),
        workflow=WorkflowOptions(
            output_prefix="out/",
            staging_prefix="stage/",
            runtime=lambda_.Runtime.PYTHON_3_13,
            ephemeral_storage_mb=4096,
            log_level=sfn.LogLevel.ERROR,
            include_execution_data=True,
            sweep_interval=Duration.minutes(30),
            metrics_namespace="Payments",
            service_name="everything",
        ),
    )


def _own(stack: cdk.Stack) -> EtlPipelineProps:
    def bucket(name: str) -> s3.Bucket:
        return s3.Bucket(stack, name, versioned=True, enforce_ssl=True)

    table = dynamodb.Table(
        stack, "UserTable", partition_key=dynamodb.Attribute(name="file_id", type=dynamodb.AttributeType.STRING)
    )
    table.add_global_secondary_index(
        index_name="status-updated_at-index",
        partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="updated_at", type=dynamodb.AttributeType.STRING),
    )
    return EtlPipelineProps(
        existing_raw_bucket=bucket("UserRaw"),
        existing_quarantine_bucket=bucket("UserQuarantine"),
        existing_processed_bucket=bucket("UserProcessed"),
        alarm_topic=sns.Topic(stack, "UserTopic", enforce_ssl=True),
        ledger=ProcessingLedgerProps(existing_table=table),
        data=DataSettings(schema=OWN_SCHEMA),
    )


def _express(stack: cdk.Stack) -> EtlPipelineProps:
    """The pipeline given a type: STANDARD, now that EXPRESS is the default."""
    return EtlPipelineProps(
        state_machine_type=sfn.StateMachineType.STANDARD,
        create_dashboard=False,
        ledger=ProcessingLedgerProps(
            encryption_key=kms.Key(stack, "LedgerKey", enable_key_rotation=True),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        ),
    )


def _in_vpc(stack: cdk.Stack) -> EtlPipelineProps:
    vpc = ec2.Vpc(
        stack,
        "UserVpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ],
    )
    group = ec2.SecurityGroup(stack, "UserGroup", vpc=vpc)
    return EtlPipelineProps(
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_group_name="app"),
        security_groups=[group],
        workflow=WorkflowOptions(large_file_mb=512),  # EXPRESS, the default (Everything has control totals)
    )


PIPELINES: dict[str, Callable[[cdk.Stack], EtlPipelineProps]] = {
    "Everything": _everything,
    "Own": _own,
    "Express": _express,
    "InVpc": _in_vpc,
}


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    stack = cdk.Stack(cdk.App(), "Fields", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    for name, props in PIPELINES.items():
        EtlPipeline(stack, name, props(stack))
    return assertions.Template.from_stack(stack)


# --- reading the template -----------------------------------------------------------------------------


def _of(t: assertions.Template, kind: str, pipeline: str, part: str = "") -> list[dict[str, Any]]:
    return [r for k, r in t.find_resources(kind).items() if k.startswith(pipeline + part)]


def _function(t: assertions.Template, pipeline: str, handler: str = "validate") -> dict[str, Any]:
    (fn,) = [
        f["Properties"] for f in _of(t, "AWS::Lambda::Function", pipeline) if handler in f["Properties"]["Handler"]
    ]
    return fn


def _env(t: assertions.Template, pipeline: str) -> dict[str, Any]:
    return _function(t, pipeline)["Environment"]["Variables"]


def _config(t: assertions.Template, pipeline: str) -> dict[str, Any]:
    return json.loads(_env(t, pipeline)["ETL_CONFIG"])


def _machine(t: assertions.Template, pipeline: str) -> dict[str, Any]:
    (machine,) = _of(t, "AWS::StepFunctions::StateMachine", pipeline, "WorkflowStateMachine")
    return machine


def _definition(t: assertions.Template, pipeline: str) -> dict[str, Any]:
    body = _machine(t, pipeline)["Properties"]["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return json.loads("".join(p if isinstance(p, str) else "X" for p in parts))


def _retriers(t: assertions.Template, pipeline: str, error: str) -> list[dict[str, Any]]:
    states = _definition(t, pipeline)["States"].values()
    return [r for s in states for r in s.get("Retry", []) if error in r["ErrorEquals"]]


def _bucket(t: assertions.Template, pipeline: str, part: str) -> dict[str, Any]:
    (bucket,) = _of(t, "AWS::S3::Bucket", pipeline, part)
    return bucket


def _table(t: assertions.Template, pipeline: str) -> dict[str, Any]:
    (table,) = _of(t, "AWS::DynamoDB::Table", pipeline)
    return table


def _alarm(t: assertions.Template, pipeline: str, name: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for k, r in t.find_resources("AWS::CloudWatch::Alarm").items()
        if k.startswith(pipeline) and name in k
    ]


def _rule_target(t: assertions.Template, pipeline: str) -> dict[str, Any]:
    (rule,) = [r for r in _of(t, "AWS::Events::Rule", pipeline) if "aws.s3" in json.dumps(r)]
    (target,) = rule["Properties"]["Targets"]
    return target


def _lifecycle(t: assertions.Template) -> dict[str, Any]:
    (rule,) = _bucket(t, "Everything", "LandingRaw")["Properties"]["LifecycleConfiguration"]["Rules"]
    return rule


def _refs(value: Any) -> str:
    return json.dumps(value)


Check = Callable[[assertions.Template], Any]

CHECKS: dict[str, Check] = {
    # EtlPipelineProps
    "EtlPipelineProps.input_prefix": lambda t: (
        _refs(_of(t, "AWS::Events::Rule", "Everything")).count('"prefix": "in/"') >= 1
    ),
    "EtlPipelineProps.removal_policy": lambda t: (
        _bucket(t, "Everything", "LandingRaw")["DeletionPolicy"] == "Delete"
        and _table(t, "Everything")["DeletionPolicy"] == "Delete"
    ),
    "EtlPipelineProps.auto_delete_objects": lambda t: len(_of(t, "Custom::S3AutoDeleteObjects", "Everything")) == 3,
    "EtlPipelineProps.encryption_key": lambda t: (
        "EverythingKey" in _refs(_bucket(t, "Everything", "LandingRaw")["Properties"]["BucketEncryption"])
        and "EverythingKey" in _refs(_table(t, "Everything")["Properties"]["SSESpecification"])
        and "EverythingKey" in _refs(_of(t, "AWS::SNS::Topic", "Everything"))
    ),
    "EtlPipelineProps.existing_raw_bucket": lambda t: (
        not _of(t, "AWS::S3::Bucket", "Own", "LandingRaw") and "UserRaw" in _refs(_of(t, "AWS::Events::Rule", "Own"))
    ),
    "EtlPipelineProps.raw_bucket_props": lambda t: (
        _bucket(t, "Everything", "LandingRaw")["Properties"]["BucketName"] == "everything-raw"
    ),
    "EtlPipelineProps.existing_quarantine_bucket": lambda t: (
        not _of(t, "AWS::S3::Bucket", "Own", "LandingQuarantine")
        and "UserQuarantine" in _refs(_env(t, "Own")["QUARANTINE_BUCKET"])
    ),
    "EtlPipelineProps.existing_processed_bucket": lambda t: (
        not _of(t, "AWS::S3::Bucket", "Own", "WorkflowProcessed")
        and "UserProcessed" in _refs(_env(t, "Own")["PROCESSED_BUCKET"])
    ),
    "EtlPipelineProps.processed_bucket_props": lambda t: (
        _bucket(t, "Everything", "WorkflowProcessed")["Properties"]["BucketName"] == "everything-processed"
    ),
    "EtlPipelineProps.existing_logs_bucket": lambda t: (
        not [k for k in t.find_resources("AWS::S3::Bucket") if k.startswith("Everything") and "AccessLogs" in k]
        and "UserLogs" in _refs(_bucket(t, "Everything", "LandingRaw")["Properties"]["LoggingConfiguration"])
    ),
    "EtlPipelineProps.validate_memory_mb": lambda t: _function(t, "Everything")["MemorySize"] == 512,
    "EtlPipelineProps.transform_memory_mb": lambda t: _function(t, "Everything", "transform")["MemorySize"] == 2048,
    "EtlPipelineProps.validate_timeout": lambda t: _function(t, "Everything")["Timeout"] == 240,
    "EtlPipelineProps.transform_timeout": lambda t: _function(t, "Everything", "transform")["Timeout"] == 600,
    "EtlPipelineProps.execution_timeout": lambda t: _definition(t, "Everything")["TimeoutSeconds"] == 3000,
    "EtlPipelineProps.log_retention": lambda t: (
        {g["Properties"]["RetentionInDays"] for g in _of(t, "AWS::Logs::LogGroup", "Everything")} == {30}
    ),
    "EtlPipelineProps.reserved_concurrency": lambda t: (
        _function(t, "Everything")["ReservedConcurrentExecutions"] == 7
        and _function(t, "Everything", "transform")["ReservedConcurrentExecutions"] == 7
    ),
    "EtlPipelineProps.state_machine_type": lambda t: (
        _machine(t, "Express")["Properties"]["StateMachineType"] == "STANDARD"
        and not _of(t, "AWS::StepFunctions::StateMachine", "Express", "WorkflowLargeFile")
    ),
    "EtlPipelineProps.retry": lambda t: {r["MaxAttempts"] for r in _retriers(t, "Everything", "TransientError")} == {4},
    "EtlPipelineProps.throttle_retry": lambda t: (
        {
            (r["IntervalSeconds"], r["MaxAttempts"], r["MaxDelaySeconds"])
            for r in _retriers(t, "Everything", "Lambda.TooManyRequestsException")
        }
        == {(7, 6, 40)}
    ),
    "EtlPipelineProps.vpc": lambda t: "UserVpc" in _refs(_function(t, "InVpc")["VpcConfig"]),
    "EtlPipelineProps.vpc_subnets": lambda t: (
        "appSubnet" in _refs(_function(t, "InVpc")["VpcConfig"]["SubnetIds"])
        and "isolatedSubnet" not in _refs(_function(t, "InVpc")["VpcConfig"]["SubnetIds"])
    ),
    "EtlPipelineProps.security_groups": lambda t: (
        "UserGroup" in _refs(_function(t, "InVpc")["VpcConfig"]["SecurityGroupIds"])
    ),
    "EtlPipelineProps.function_props": lambda t: (
        _function(t, "Everything")["Description"] == "everything"
        and _function(t, "Everything", "transform")["Description"] == "everything"
    ),
    "EtlPipelineProps.state_machine_props": lambda t: (
        _machine(t, "Everything")["Properties"]["StateMachineName"] == "everything-etl"
    ),
    "EtlPipelineProps.dead_letter_queue_props": lambda t: (
        [q["Properties"]["MessageRetentionPeriod"] for q in _of(t, "AWS::SQS::Queue", "Everything")] == [604800, 604800]
    ),
    "EtlPipelineProps.alarm_topic": lambda t: (
        not _of(t, "AWS::SNS::Topic", "Own")
        and "UserTopic" in _refs(_alarm(t, "Own", "ExecutionsFailed")[0]["AlarmActions"])
    ),
    "EtlPipelineProps.alarm_topic_props": lambda t: (
        _of(t, "AWS::SNS::Topic", "Everything")[0]["Properties"]["TopicName"] == "everything-alarms"
    ),
    "EtlPipelineProps.create_dashboard": lambda t: (
        not _of(t, "AWS::CloudWatch::Dashboard", "Express") and _of(t, "AWS::CloudWatch::Dashboard", "Own")
    ),
    "EtlPipelineProps.dashboard_name": lambda t: (
        _of(t, "AWS::CloudWatch::Dashboard", "Everything")[0]["Properties"]["DashboardName"] == "everything-dash"
    ),
    # DataSettings, through `data`
    "DataSettings.suffixes": lambda t: (
        _config(t, "Everything")["suffixes"] == [".csv", ".json"]
        and ".ndjson" not in _refs(_of(t, "AWS::Events::Rule", "Everything"))
    ),
    "DataSettings.required_fields": lambda t: (
        _config(t, "Everything")["required_fields"] == ["transaction_id", "amount", "date"]
    ),
    "DataSettings.fee_rate": lambda t: _config(t, "Everything")["fee_rate"] == "1.25",
    "DataSettings.rounding": lambda t: _config(t, "Everything")["rounding"] == "ROUND_HALF_EVEN",
    "DataSettings.default_currency": lambda t: _config(t, "Everything")["default_currency"] == "EUR",
    "DataSettings.max_errors": lambda t: _config(t, "Everything")["max_errors"] == 10,
    "DataSettings.max_record_bytes": lambda t: _config(t, "Everything")["max_record_bytes"] == 2048,
    # Its effect is that 1.25 is taken at all: without it, DATA cannot be built.
    "DataSettings.allow_fee_rate_above_one": lambda t: _config(t, "Everything")["fee_rate"] == "1.25",
    "DataSettings.any_currency": lambda t: _config(t, "Everything")["any_currency"] is True,
    "DataSettings.schema": lambda t: (
        _config(t, "Own")["schema_file"] == "etl_schema.json"
        and _config(t, "Own")["schema_hash"] == Schema.from_dict(OWN_SCHEMA).hash
    ),
    "DataSettings.control_totals": lambda t: (
        _config(t, "Everything")["control_totals"] is True
        and "Wait for the control record" in _definition(t, "Everything")["States"]
    ),
    "DataSettings.control_wait": lambda t: (
        _config(t, "Everything")["control_wait_seconds"] == 1200 and _config(t, "Everything")["control_checks"] == 10
    ),
    "DataSettings.control_check_interval": lambda t: (
        _definition(t, "Everything")["States"]["Wait for the control record"]["Seconds"] == 120
    ),
    # LandingOptions
    "LandingOptions.quarantine_prefix": lambda t: _env(t, "Everything")["QUARANTINE_PREFIX"] == "rejected/",
    "LandingOptions.glacier_after_days": lambda t: _lifecycle(t)["Transitions"][0]["TransitionInDays"] == 30,
    "LandingOptions.noncurrent_version_expiration_days": lambda t: (
        _lifecycle(t)["NoncurrentVersionExpiration"]["NoncurrentDays"] == 45
    ),
    "LandingOptions.event_retry_attempts": lambda t: (
        _rule_target(t, "Everything")["RetryPolicy"]["MaximumRetryAttempts"] == 3
    ),
    "LandingOptions.event_max_age": lambda t: (
        _rule_target(t, "Everything")["RetryPolicy"]["MaximumEventAgeInSeconds"] == 7200
    ),
    "LandingOptions.archive_retention": lambda t: (
        [a["Properties"]["RetentionDays"] for a in _of(t, "AWS::Events::Archive", "Everything")] == [30]
        and not _of(t, "AWS::Events::Archive", "Own")
    ),
    # ProcessingLedgerProps, through `ledger`
    "ProcessingLedgerProps.existing_table": lambda t: (
        not _of(t, "AWS::DynamoDB::Table", "Own") and "UserTable" in _refs(_env(t, "Own")["LEDGER_TABLE"])
    ),
    "ProcessingLedgerProps.encryption_key": lambda t: (
        "LedgerKey" in _refs(_table(t, "Express")["Properties"]["SSESpecification"])
    ),
    "ProcessingLedgerProps.point_in_time_recovery": lambda t: (
        _table(t, "Everything")["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is False
    ),
    "ProcessingLedgerProps.deletion_protection": lambda t: (
        _table(t, "Express")["Properties"]["DeletionProtectionEnabled"] is True
    ),
    "ProcessingLedgerProps.removal_policy": lambda t: _table(t, "Express")["DeletionPolicy"] == "RetainExceptOnCreate",
    "ProcessingLedgerProps.table_name": lambda t: (
        _table(t, "Everything")["Properties"]["TableName"] == "everything-ledger"
    ),
    "ProcessingLedgerProps.table_props": lambda t: (
        _table(t, "Everything")["Properties"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    ),
    # WorkflowOptions
    "WorkflowOptions.output_prefix": lambda t: _env(t, "Everything")["OUTPUT_PREFIX"] == "out/",
    "WorkflowOptions.staging_prefix": lambda t: _env(t, "Everything")["STAGING_PREFIX"] == "stage/",
    "WorkflowOptions.runtime": lambda t: _function(t, "Everything")["Runtime"] == "python3.13",
    "WorkflowOptions.ephemeral_storage_mb": lambda t: _function(t, "Everything")["EphemeralStorage"]["Size"] == 4096,
    "WorkflowOptions.log_level": lambda t: (  # STANDARD (control totals) would log ALL
        _machine(t, "Everything")["Properties"]["LoggingConfiguration"]["Level"] == "ERROR"
    ),
    "WorkflowOptions.include_execution_data": lambda t: (
        _machine(t, "Everything")["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is True
    ),
    "WorkflowOptions.sweep_interval": lambda t: (
        "rate(30 minutes)"
        in [r["Properties"].get("ScheduleExpression") for r in _of(t, "AWS::Events::Rule", "Everything")]
    ),
    "WorkflowOptions.metrics_namespace": lambda t: (
        _env(t, "Everything")["POWERTOOLS_METRICS_NAMESPACE"] == "Payments"
        and _alarm(t, "Everything", "FilesRejected")[0]["Namespace"] == "Payments"
    ),
    "WorkflowOptions.service_name": lambda t: _env(t, "Everything")["POWERTOOLS_SERVICE_NAME"] == "everything",
    "WorkflowOptions.large_file_mb": lambda t: (
        {"Variable": "$.size", "NumericGreaterThan": 512 * 1024 * 1024}
        in _definition(t, "InVpc")["States"]["Large file?"]["Choices"][0]["And"]
    ),
    # AlarmThresholds, through `alarm_thresholds`
    "AlarmThresholds.function_errors": lambda t: (
        {a["Threshold"] for a in _alarm(t, "Everything", "ValidateErrors")} == {2}
    ),
    "AlarmThresholds.function_throttles": lambda t: (
        {a["Threshold"] for a in _alarm(t, "Everything", "ValidateThrottles")} == {3}
    ),
    "AlarmThresholds.function_duration_percent": lambda t: (
        {a["Threshold"] for a in _alarm(t, "Everything", "ValidateNearTimeout")} == {240000 * 0.7}
    ),
    "AlarmThresholds.executions_failed": lambda t: (
        {a["Threshold"] for a in _alarm(t, "Everything", "ExecutionsFailed")} == {4}
    ),
    "AlarmThresholds.executions_timed_out": lambda t: (
        {a["Threshold"] for a in _alarm(t, "Everything", "ExecutionsTimedOut")} == {5}
    ),
    "AlarmThresholds.executions_throttled": lambda t: (
        not _alarm(t, "Everything", "ExecutionsThrottled") and _alarm(t, "Own", "ExecutionsThrottled")
    ),
    "AlarmThresholds.dead_letter_messages": lambda t: (
        {a["Threshold"] for a in _alarm(t, "Everything", "DeadLetters")} == {7}
    ),
    "AlarmThresholds.files_rejected": lambda t: _alarm(t, "Everything", "FilesRejected")[0]["Threshold"] == 8,
    "AlarmThresholds.unsettled_files": lambda t: _alarm(t, "Everything", "UnsettledFiles")[0]["Threshold"] == 9,
    # AlarmSpec, through alarm_thresholds.files_rejected (threshold and enabled are checked above)
    "AlarmSpec.threshold": lambda t: _alarm(t, "Everything", "FilesRejected")[0]["Threshold"] == 8,
    "AlarmSpec.period": lambda t: _alarm(t, "Everything", "FilesRejected")[0]["Period"] == 600,
    "AlarmSpec.evaluation_periods": lambda t: _alarm(t, "Everything", "FilesRejected")[0]["EvaluationPeriods"] == 3,
    "AlarmSpec.datapoints_to_alarm": lambda t: _alarm(t, "Everything", "FilesRejected")[0]["DatapointsToAlarm"] == 2,
    "AlarmSpec.enabled": lambda t: not _alarm(t, "Everything", "ExecutionsThrottled"),
    # RetryPolicy, through `retry`
    "RetryPolicy.interval": lambda t: (
        {r["IntervalSeconds"] for r in _retriers(t, "Everything", "TransientError")} == {3}
    ),
    "RetryPolicy.backoff_rate": lambda t: (
        {r["BackoffRate"] for r in _retriers(t, "Everything", "TransientError")} == {1.5}
    ),
    "RetryPolicy.max_attempts": lambda t: (
        {r["MaxAttempts"] for r in _retriers(t, "Everything", "TransientError")} == {4}
    ),
    "RetryPolicy.max_delay": lambda t: (
        {r["MaxDelaySeconds"] for r in _retriers(t, "Everything", "TransientError")} == {30}
    ),
}


def _expected_paths() -> set[str]:
    paths = {f"EtlPipelineProps.{f.name}" for f in fields(EtlPipelineProps) if f.name not in COMPOSITE}
    for cls in (*COMPOSITE.values(), AlarmSpec, RetryPolicy):
        paths |= {f"{cls.__name__}.{f.name}" for f in fields(cls) if f.init}
    return paths


def test_every_field_has_a_check():
    expected = _expected_paths()
    assert sorted(expected - set(CHECKS)) == []
    assert sorted(set(CHECKS) - expected) == []


@pytest.mark.parametrize("path", sorted(CHECKS))
def test_the_field_reaches_the_template(template, path):
    assert CHECKS[path](template), path


@pytest.mark.parametrize(
    ("part", "sources"),
    [
        (RawLandingProps, LANDING_SOURCES),
        (ValidateTransformWorkflowProps, WORKFLOW_SOURCES),
        (EtlAlarmsProps, ALARMS_SOURCES),
    ],
)
def test_every_part_field_is_fed_or_wired(part, sources):
    assert sorted(f.name for f in fields(part)) == sorted(sources)
    for name, source in sources.items():
        if source is WIRED:
            continue
        head, _, rest = source.partition(".")
        assert head in {f.name for f in fields(EtlPipelineProps)}, (name, source)
        if rest:
            assert rest in {f.name for f in fields(COMPOSITE[head])}, (name, source)


def test_every_facade_field_feeds_a_part():
    used = {s.partition(".")[0] for m in (LANDING_SOURCES, WORKFLOW_SOURCES, ALARMS_SOURCES) for s in m.values() if s}
    assert sorted({f.name for f in fields(EtlPipelineProps)} - used - {"ledger"}) == []
    nested = {s for m in (LANDING_SOURCES, WORKFLOW_SOURCES, ALARMS_SOURCES) for s in m.values() if s and "." in s}
    for head in ("landing", "workflow"):
        assert {f"{head}.{f.name}" for f in fields(COMPOSITE[head])} <= nested
