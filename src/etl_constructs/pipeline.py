"""EtlPipeline: the four constructs wired together from one props object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .alarms import AlarmThresholds, EtlAlarms, EtlAlarmsProps
from .data_settings import DataSettings
from .definition import RetryPolicy
from .errors import ConfigurationError
from .landing import RawLanding, RawLandingProps
from .ledger import ProcessingLedger, ProcessingLedgerProps
from .workflow import ValidateTransformWorkflow, ValidateTransformWorkflowProps


@dataclass(frozen=True)
class EtlPipelineProps:
    """One props object for the whole pipeline; every field has a default.

    Attributes:
        data: the data contract's settings (suffixes, required fields, fee rate, rounding...). Default: DataSettings().
        input_prefix: only keys under it are processed. Default: "" (the whole raw bucket).
        removal_policy: for buckets, table and log groups. Default: RETAIN (it is financial data).
        auto_delete_objects: empty the buckets when the stack is deleted (needs DESTROY). Default: False.
        encryption_key: one KMS key for buckets, table and logs. Default: AWS-managed encryption.
        existing_raw_bucket: your landing bucket (versioned, EventBridge on). Default: a new bucket.
        raw_bucket_props: `s3.Bucket` keyword arguments over the raw bucket's defaults. Default: none.
        existing_quarantine_bucket: Default: a new bucket.
        existing_processed_bucket: Default: a new bucket.
        landing: more RawLanding settings; the fields above win where both are given. Default: none.
        ledger: ProcessingLedger props. Default: ProcessingLedgerProps(removal_policy=removal_policy).
        workflow: more ValidateTransformWorkflow settings as keyword arguments. Default: none.
        retry: backoff of every task's faults. Default: RetryPolicy().
        throttle_retry: backoff for throttling, a budget of its own. Default: about 27 minutes of waits,
            fewer when the execution timeout is shorter (see ValidateTransformWorkflowProps).
        reserved_concurrency: each function's reserved concurrency: how many files a step processes at
            once; the rest wait their turn on the throttling budget. Default: none (the account's pool).
        state_machine_type: Default: STANDARD.
        vpc: run the functions in your VPC. Default: none.
        alarm_topic: SNS topic for the alarms. Default: a new encrypted topic.
        alarm_thresholds: Default: AlarmThresholds() (alarm on the first occurrence).
    """

    data: DataSettings = field(default_factory=DataSettings)
    input_prefix: str = ""
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    auto_delete_objects: bool = False
    encryption_key: kms.IKey | None = None
    existing_raw_bucket: s3.IBucket | None = None
    raw_bucket_props: Mapping[str, Any] | None = None
    existing_quarantine_bucket: s3.IBucket | None = None
    existing_processed_bucket: s3.IBucket | None = None
    landing: Mapping[str, Any] | None = None
    ledger: ProcessingLedgerProps | None = None
    workflow: Mapping[str, Any] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    throttle_retry: RetryPolicy | None = None
    reserved_concurrency: int | None = None
    state_machine_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD
    vpc: ec2.IVpc | None = None
    alarm_topic: sns.ITopic | None = None
    alarm_thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)

    def __post_init__(self) -> None:
        if self.existing_raw_bucket is not None and self.raw_bucket_props:
            raise ConfigurationError("EtlPipeline: give existing_raw_bucket or raw_bucket_props, not both")
        if self.auto_delete_objects and self.removal_policy != RemovalPolicy.DESTROY:
            raise ConfigurationError("EtlPipeline: auto_delete_objects needs removal_policy=RemovalPolicy.DESTROY")


class EtlPipeline(Construct):
    """The whole ingestion pipeline: RawLanding -> ValidateTransformWorkflow, ProcessingLedger, EtlAlarms.

    Reach into the parts through `landing`, `ledger`, `workflow` and `alarms`, or the shortcuts
    `raw_bucket`, `processed_bucket`, `quarantine_bucket`, `table`, `state_machine` and `alarm_topic`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: EtlPipelineProps | None = None) -> None:
        super().__init__(scope, construct_id)
        self.props = props = props or EtlPipelineProps()
        self.landing = RawLanding(
            self,
            "Landing",
            RawLandingProps(
                **{
                    **(props.landing or {}),
                    "existing_bucket": props.existing_raw_bucket,
                    "bucket_props": props.raw_bucket_props,
                    "existing_quarantine_bucket": props.existing_quarantine_bucket,
                    "input_prefix": props.input_prefix,
                    "suffixes": props.data.suffixes,
                    "encryption_key": props.encryption_key,
                    "removal_policy": props.removal_policy,
                    "auto_delete_objects": props.auto_delete_objects,
                }
            ),
        )
        self.ledger = ProcessingLedger(
            self,
            "Ledger",
            props.ledger
            or ProcessingLedgerProps(removal_policy=props.removal_policy, encryption_key=props.encryption_key),
        )
        self.workflow = ValidateTransformWorkflow(
            self,
            "Workflow",
            ValidateTransformWorkflowProps(
                **{
                    **(props.workflow or {}),
                    "raw_bucket": self.landing.bucket,
                    "quarantine_bucket": self.landing.quarantine_bucket,
                    "ledger": self.ledger,
                    "input_prefix": props.input_prefix,
                    "quarantine_prefix": self.landing.quarantine_prefix,
                    "data": props.data,
                    "existing_processed_bucket": props.existing_processed_bucket,
                    "encryption_key": props.encryption_key,
                    "logs_bucket": self.landing.logs_bucket,
                    "retry": props.retry,
                    **({"throttle_retry": props.throttle_retry} if props.throttle_retry else {}),
                    **({"reserved_concurrency": props.reserved_concurrency} if props.reserved_concurrency else {}),
                    "state_machine_type": props.state_machine_type,
                    "vpc": props.vpc,
                    "removal_policy": props.removal_policy,
                    "auto_delete_objects": props.auto_delete_objects,
                    "ingest_dead_letter_queue": self.landing.dead_letter_queue,
                }
            ),
        )
        self.landing.connect(self.workflow.state_machine)
        self.alarms = EtlAlarms(
            self,
            "Alarms",
            EtlAlarmsProps(
                functions=self.workflow.functions,
                state_machine=self.workflow.state_machine,
                reconciler=self.workflow.reconciler,
                sweep=self.workflow.sweep_function,
                sweep_interval=self.workflow.props.sweep_interval,
                dead_letter_queues=(
                    self.landing.dead_letter_queue,
                    self.workflow.reconciler_dead_letter_queue,
                ),
                metrics_namespace=self.workflow.props.metrics_namespace,
                service_name=self.workflow.service_name,
                topic=props.alarm_topic,
                encryption_key=props.encryption_key,
                removal_policy=props.removal_policy,
                thresholds=props.alarm_thresholds,
            ),
        )

    @property
    def raw_bucket(self) -> s3.IBucket:
        """Where files land."""
        return self.landing.bucket

    @property
    def quarantine_bucket(self) -> s3.IBucket:
        """Where rejected files and their reports are kept."""
        return self.landing.quarantine_bucket

    @property
    def processed_bucket(self) -> s3.IBucket:
        """Where the JSON Lines output is published."""
        return self.workflow.processed_bucket

    @property
    def table(self) -> Any:
        """The ledger's DynamoDB table."""
        return self.ledger.table

    @property
    def state_machine(self) -> sfn.StateMachine:
        """The workflow's state machine."""
        return self.workflow.state_machine

    @property
    def alarm_topic(self) -> sns.ITopic:
        """The topic every alarm notifies."""
        return self.alarms.topic
