"""EtlPipeline: the four constructs wired together from one props object (see pipeline_props)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .alarms import EtlAlarms, EtlAlarmsProps
from .errors import ConfigurationError, props_of
from .landing import RawLanding
from .ledger import ProcessingLedger
from .pipeline_props import EtlPipelineProps, LandingOptions, WorkflowOptions
from .workflow import ValidateTransformWorkflow, ValidateTransformWorkflowProps

__all__ = ["EtlPipeline", "EtlPipelineProps", "LandingOptions", "WorkflowOptions"]


class EtlPipeline(Construct):
    """The whole ingestion pipeline: RawLanding -> ValidateTransformWorkflow, ProcessingLedger, EtlAlarms.

    Reach into the parts through `landing`, `ledger`, `workflow` and `alarms`, or the shortcuts
    `raw_bucket`, `processed_bucket`, `quarantine_bucket`, `table`, `state_machine`, `large_file_state_machine`
    and `alarm_topic`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: EtlPipelineProps | None = None, **kwargs: Any
    ) -> None:
        props = props_of("EtlPipeline", EtlPipelineProps, props, kwargs)
        super().__init__(scope, construct_id)
        self.props = props = props or EtlPipelineProps()
        self.landing = RawLanding(self, "Landing", props.landing_props())
        self.ledger = ProcessingLedger(self, "Ledger", props.ledger_props())
        self.workflow = ValidateTransformWorkflow(
            self,
            "Workflow",
            ValidateTransformWorkflowProps(
                **props.workflow_settings(),
                raw_bucket=self.landing.bucket,
                quarantine_bucket=self.landing.quarantine_bucket,
                ledger=self.ledger,
                logs_bucket=self.landing.logs_bucket,
                ingest_dead_letter_queue=self.landing.dead_letter_queue,
            ),
        )
        self.landing.connect(self.workflow.state_machine)
        self.alarms = EtlAlarms(
            self,
            "Alarms",
            EtlAlarmsProps(
                **props.alarms_settings(),
                functions=self.workflow.functions,
                state_machine=self.workflow.state_machine,
                large_file_state_machine=self.workflow.large_file_state_machine,
                reconciler=self.workflow.reconciler,
                sweep=self.workflow.sweep_function,
                dead_letter_queues=(
                    self.landing.dead_letter_queue,
                    self.workflow.reconciler_dead_letter_queue,
                ),
                service_name=self.workflow.service_name,
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
    def table(self) -> dynamodb.ITable:
        """The ledger's DynamoDB table."""
        return self.ledger.table

    @property
    def state_machine(self) -> sfn.StateMachine:
        """The workflow's state machine: the one each landed file starts (EXPRESS by default)."""
        return self.workflow.state_machine

    @property
    def large_file_state_machine(self) -> sfn.StateMachine | None:
        """The STANDARD twin that runs large files and every restart, or None (a STANDARD data path, or
        EXPRESS with `large_file_mb=None`)."""
        return self.workflow.large_file_state_machine

    @property
    def alarm_topic(self) -> sns.ITopic:
        """The topic every alarm notifies."""
        return self.alarms.topic

    def metric(self, name: str, statistic: str = "Sum", period: Duration | None = None) -> cloudwatch.Metric:
        """One of the functions' own metrics (`FilesCompleted`, `FilesRejected`, `RowsValidated`,
        `RowsRejected`, `RowsTransformed`, `BytesRead`, `UnsettledFiles`), with its namespace and
        `service` dimension. Default: the sum over 5 minutes."""
        return cloudwatch.Metric(
            namespace=self.workflow.props.metrics_namespace,
            metric_name=name,
            dimensions_map={"service": self.workflow.service_name},
            statistic=statistic,
            period=period or Duration.minutes(5),
        )

    def metric_files_completed(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Files that ended COMPLETED."""
        return self.metric("FilesCompleted", period=period)

    def metric_files_rejected(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Files that broke the data contract (quarantined, VALIDATION_FAILED)."""
        return self.metric("FilesRejected", period=period)

    def metric_rows_validated(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Rows that passed validation."""
        return self.metric("RowsValidated", period=period)

    def metric_rows_rejected(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Rows that broke the data contract."""
        return self.metric("RowsRejected", period=period)

    def metric_unsettled_files(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Files the sweep settled because no execution or reconciler did."""
        return self.metric("UnsettledFiles", period=period)

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` put files under the input prefix of the raw bucket (and use its key, if any)."""
        return self.raw_bucket.grant_put(grantee, f"{self.landing.input_prefix}*")

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` read the published JSON Lines output (and decrypt it, if encrypted with a key)."""
        return self.processed_bucket.grant_read(grantee, f"{self.workflow.props.output_prefix}*")

    def grant_read_ledger(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` read the ledger and query its status index (and decrypt it, if encrypted with a key)."""
        return self.ledger.grant_read(grantee)

    def notify(
        self,
        emails: Sequence[str] = (),
        chat: Sequence[chatbot.SlackChannelConfiguration] = (),
    ) -> None:
        """Send every alarm to these e-mail addresses (each confirms by a link SNS sends) and these AWS
        Chatbot channels (Slack, or Microsoft Teams through a `chatbot.CfnMicrosoftTeamsChannelConfiguration`
        naming `alarm_topic`)."""
        if isinstance(emails, str):
            raise ConfigurationError(f"EtlPipeline.notify: emails takes a list: emails=[{emails!r}]")
        for address in emails:
            if "@" not in address:
                raise ConfigurationError(f"EtlPipeline.notify: {address!r} is not an e-mail address")
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(address))
        for channel in chat:
            channel.add_notification_topic(self.alarm_topic)
