"""EtlPipeline with default props: everything wired, exposed, retained, and nothing surprising."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy

from etl_constructs import (
    ConfigurationError,
    EtlAlarms,
    EtlPipeline,
    EtlPipelineProps,
    ProcessingLedger,
    RawLanding,
    ValidateTransformWorkflow,
)


@pytest.fixture(scope="module")
def built(synthesize):
    return synthesize(lambda stack: EtlPipeline(stack, "Pipeline"))


@pytest.fixture(scope="module")
def template(built):
    return built[0]


@pytest.fixture(scope="module")
def pipeline(built) -> EtlPipeline:
    return built[1]


def test_parts_are_exposed(pipeline):
    assert isinstance(pipeline.landing, RawLanding)
    assert isinstance(pipeline.ledger, ProcessingLedger)
    assert isinstance(pipeline.workflow, ValidateTransformWorkflow)
    assert isinstance(pipeline.alarms, EtlAlarms)
    assert pipeline.raw_bucket is pipeline.landing.bucket
    assert pipeline.processed_bucket is pipeline.workflow.processed_bucket
    assert pipeline.table is pipeline.ledger.table
    assert pipeline.state_machine is pipeline.workflow.state_machine
    assert pipeline.alarm_topic is pipeline.alarms.topic


def test_the_rule_starts_the_state_machine(template):
    rules = template.find_resources("AWS::Events::Rule", {"Properties": {"EventPattern": {"source": ["aws.s3"]}}})
    (rule,) = rules.values()
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    target = rule["Properties"]["Targets"][0]["Arn"]["Ref"]
    assert target in machines and target.startswith("PipelineWorkflowStateMachine")


def test_no_custom_resources_and_only_the_two_functions_and_the_sweep(template):
    kinds = {r["Type"] for r in template.to_json()["Resources"].values()}
    assert not [k for k in kinds if k.startswith("Custom::")]
    assert len(template.find_resources("AWS::Lambda::Function")) == 3


def test_data_is_retained_by_default(template):
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup"):
        for resource in template.find_resources(kind).values():
            assert resource["DeletionPolicy"] == "Retain", kind


def test_alarms_watch_both_dead_letter_queues(template):
    dlq_alarms = [
        a
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(dlq_alarms) == 2


def test_a_reconciler_that_fails_or_times_out_alarms(template):
    (alarm,) = [
        a
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmDescription", "").startswith("ETL pipeline: the reconciler")
    ]
    metrics = alarm["Properties"]["Metrics"]
    # Each missing point counted as 0: Step Functions publishes a count only when it is not zero.
    assert [m["Expression"] for m in metrics if "Expression" in m] == ["FILL(m0, 0) + FILL(m1, 0)"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut"}
    assert alarm["Properties"]["AlarmActions"]


def test_both_data_path_machines_count_in_one_alarm_each(template):
    by_name = {
        a["Properties"]["AlarmDescription"]: a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmDescription", "").startswith("ETL pipeline: executions")
    }
    assert len(by_name) == 3  # failed, timed out, throttled
    for alarm in by_name.values():
        metrics = alarm["Metrics"]
        assert [m["Expression"] for m in metrics if "Expression" in m] == ["FILL(m0, 0) + FILL(m1, 0)"]
        machines = {json.dumps(m["MetricStat"]["Metric"]["Dimensions"]) for m in metrics if "MetricStat" in m}
        assert len(machines) == 2


def test_the_sweep_alarms_when_it_fails_and_when_it_finds_unsettled_files(template):
    alarms = {
        a["Properties"]["AlarmDescription"]: a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    failed = alarms["ETL pipeline: the sweep could not hand on all it found (unsettled items, dead-lettered events)"]
    assert failed["MetricName"] == "Errors" and failed["Namespace"] == "AWS/Lambda"
    unsettled = alarms["ETL pipeline: the sweep settled files no execution or reconciler settled"]
    assert unsettled["MetricName"] == "UnsettledFiles" and unsettled["Namespace"] == "EtlPipeline"
    for alarm in (failed, unsettled):
        assert alarm["AlarmActions"] and alarm["Threshold"] == 1
    stopped = alarms["ETL pipeline: the sweep has not run (its schedule is disabled or failing)"]
    assert stopped["MetricName"] == "Invocations" and stopped["Period"] == 3600
    assert stopped["ComparisonOperator"] == "LessThanThreshold" and stopped["TreatMissingData"] == "breaching"


def test_the_sweep_restarts_what_the_ingest_rule_could_not_start(template):
    (sweep,) = [
        f for f in template.find_resources("AWS::Lambda::Function").values() if "sweep" in f["Properties"]["Handler"]
    ]
    variables = sweep["Properties"]["Environment"]["Variables"]
    (ingest_dlq,) = [
        k for k in template.find_resources("AWS::SQS::Queue") if k.startswith("PipelineLandingEventDeadLetters")
    ]
    assert variables["INGEST_QUEUE_URL"] == {"Ref": ingest_dlq}


def test_destroy_passes_through_for_ephemeral_environments(synthesize):
    template, _ = synthesize(
        lambda stack: EtlPipeline(
            stack, "Pipeline", EtlPipelineProps(removal_policy=RemovalPolicy.DESTROY, auto_delete_objects=True)
        )
    )
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table"):
        for resource in template.find_resources(kind).values():
            assert resource["DeletionPolicy"] == "Delete", kind
    assert len(template.find_resources("Custom::S3AutoDeleteObjects")) == 4


def test_auto_delete_needs_destroy():
    with pytest.raises(ConfigurationError, match="DESTROY"):
        EtlPipelineProps(auto_delete_objects=True)


def test_two_pipelines_fit_in_one_stack(synthesize):
    def build(stack: cdk.Stack) -> None:
        EtlPipeline(stack, "Cards")
        EtlPipeline(stack, "Wires")

    template, _ = synthesize(build)
    assert len(template.find_resources("AWS::StepFunctions::StateMachine")) == 6  # each: EXPRESS, twin, reconciler


def test_a_period_given_reaches_every_term_of_a_summed_alarm(synthesize):
    from etl_constructs import AlarmSpec, AlarmThresholds

    spec = AlarmSpec(period=cdk.Duration.minutes(1))
    template, _ = synthesize(
        lambda stack: EtlPipeline(
            stack, "P", EtlPipelineProps(alarm_thresholds=AlarmThresholds(executions_failed=spec))
        )
    )
    (alarm,) = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmDescription") == "ETL pipeline: executions failed"
    ]
    periods = {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert periods == {60}
