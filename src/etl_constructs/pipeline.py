"""EtlPipeline: the four constructs wired together from one props object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .alarms import AlarmThresholds, EtlAlarms, EtlAlarmsProps
from .data_settings import DataSettings
from .definition import RetryPolicy
from .errors import ConfigurationError, props_of
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
        landing: more RawLanding settings as keyword arguments. A setting this class has too (the raw
            bucket, input prefix, suffixes, key, removal) takes effect when it is left at its default
            here; set in both places to different values, it is a ConfigurationError. Default: none.
        ledger: ProcessingLedger props; `encryption_key` reaches them unless they name a key of their
            own (a different one is a ConfigurationError). Default:
            ProcessingLedgerProps(removal_policy=removal_policy, encryption_key=encryption_key).
        workflow: more ValidateTransformWorkflow settings as keyword arguments, under the same rule as
            `landing`; the parts EtlPipeline wires (buckets, ledger, queues) cannot be given. Default: none.
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
        key = self.encryption_key
        if self.ledger is not None and key is not None and self.ledger.encryption_key not in (None, key):
            raise ConfigurationError(
                "EtlPipeline: encryption_key and ledger.encryption_key name different keys: give one"
            )
        self.landing_settings()
        self.workflow_settings()

    def is_default(self, name: str) -> bool:
        """True when the field `name` holds its default value."""
        (spec,) = [f for f in fields(self) if f.name == name]
        default = spec.default_factory() if spec.default_factory is not MISSING else spec.default
        return _same(getattr(self, name), default)

    def landing_settings(self) -> dict[str, Any]:
        """RawLandingProps' keyword arguments: `landing` merged with the fields this class shares with it."""
        data = self.data
        shared = {
            "existing_bucket": "existing_raw_bucket",
            "bucket_props": "raw_bucket_props",
            "existing_quarantine_bucket": "existing_quarantine_bucket",
            "input_prefix": "input_prefix",
            "encryption_key": "encryption_key",
            "removal_policy": "removal_policy",
            "auto_delete_objects": "auto_delete_objects",
        }
        merged = _merged(self, "landing", self.landing, shared, wired=("logs_bucket",))
        if self.landing is not None and "suffixes" in self.landing:
            suffixes = self.landing["suffixes"]
            if not self.is_default("data") and tuple(suffixes) != tuple(data.suffixes):
                raise ConfigurationError(
                    "EtlPipeline: landing['suffixes'] and data.suffixes disagree:"
                    " give them once, as data=DataSettings(suffixes=...)"
                )
        merged["suffixes"] = self.resolved_data().suffixes
        return merged

    def resolved_data(self) -> DataSettings:
        """The data settings: `data`, with the suffixes `landing` gives when `data` is left at its default."""
        suffixes = (self.landing or {}).get("suffixes")
        if suffixes is not None and self.is_default("data"):
            if isinstance(suffixes, str):
                raise ConfigurationError(f"EtlPipeline: landing['suffixes'] is a string: give a tuple, ({suffixes!r},)")
            return replace(self.data, suffixes=tuple(suffixes))
        return self.data

    def workflow_settings(self) -> dict[str, Any]:
        """ValidateTransformWorkflowProps' keyword arguments, but the parts EtlPipeline wires."""
        shared = {  # input_prefix is the landing's, resolved (EtlPipeline checks a workflow['input_prefix'] against it)
            "existing_processed_bucket": "existing_processed_bucket",
            "encryption_key": "encryption_key",
            "retry": "retry",
            "throttle_retry": "throttle_retry",
            "reserved_concurrency": "reserved_concurrency",
            "state_machine_type": "state_machine_type",
            "vpc": "vpc",
            "removal_policy": "removal_policy",
            "auto_delete_objects": "auto_delete_objects",
        }
        wired = (
            "raw_bucket",
            "quarantine_bucket",
            "ledger",
            "quarantine_prefix",
            "logs_bucket",
            "ingest_dead_letter_queue",
            "data",
        )
        merged = _merged(self, "workflow", self.workflow, shared, wired=wired)
        return {k: v for k, v in merged.items() if v is not None or k not in ("throttle_retry", "reserved_concurrency")}

    def ledger_props(self) -> ProcessingLedgerProps:
        """The ledger's props: `ledger` with `encryption_key` filled in, or the defaults."""
        if self.ledger is None:
            return ProcessingLedgerProps(removal_policy=self.removal_policy, encryption_key=self.encryption_key)
        if (
            self.ledger.existing_table is None
            and self.ledger.encryption_key is None
            and self.encryption_key is not None
        ):
            return replace(self.ledger, encryption_key=self.encryption_key)
        return self.ledger


def _same(a: Any, b: Any) -> bool:
    """Equal settings: the same object, equal values, or props whose fields are the same (CDK's Duration
    compares by identity, so by its seconds here)."""
    if a is b:
        return True
    if isinstance(a, Duration) and isinstance(b, Duration):
        return bool(a.to_seconds() == b.to_seconds())
    if is_dataclass(a) and type(a) is type(b):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    try:
        return bool(a == b)
    except Exception:  # a jsii object may refuse comparison: not the same
        return False


def _props(cls: type[Any], part: str, settings: dict[str, Any]) -> Any:
    """`cls(**settings)`, with an unknown setting named, and the settings `cls` has listed."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigurationError(
            f"EtlPipeline: {part} has no setting {', '.join(map(repr, unknown))};"
            f" {cls.__name__} has: {', '.join(sorted(known))}"
        )
    return cls(**settings)


def _merged(
    props: EtlPipelineProps,
    part: str,
    given: Mapping[str, Any] | None,
    shared: Mapping[str, str],
    wired: tuple[str, ...],
) -> dict[str, Any]:
    """`given` (the `part` mapping) with the shared fields: a field left at its default yields to `given`;
    one set in both places must agree. A wired setting (EtlPipeline connects it) is refused."""
    if given is not None and not isinstance(given, Mapping):
        raise ConfigurationError(
            f"EtlPipeline: {part} must be a mapping of keyword arguments, not {type(given).__name__}"
        )
    merged = dict(given or {})
    for key in wired:
        if key in merged:
            hint = (
                "data=DataSettings(...)" if key == "data" else f"the {part} part's own settings; EtlPipeline wires it"
            )
            if part == "workflow" and key == "quarantine_prefix":
                hint = "landing={'quarantine_prefix': ...}"
            raise ConfigurationError(f"EtlPipeline: {part}[{key!r}] cannot be given here: set it through {hint}")
    for key, name in shared.items():
        value = getattr(props, name)
        if key not in merged:
            merged[key] = value
        elif not props.is_default(name) and not _same(merged[key], value):
            raise ConfigurationError(
                f"EtlPipeline: {part}[{key!r}] and {name} disagree: give the setting once, as {name}"
            )
    return merged


class EtlPipeline(Construct):
    """The whole ingestion pipeline: RawLanding -> ValidateTransformWorkflow, ProcessingLedger, EtlAlarms.

    Reach into the parts through `landing`, `ledger`, `workflow` and `alarms`, or the shortcuts
    `raw_bucket`, `processed_bucket`, `quarantine_bucket`, `table`, `state_machine` and `alarm_topic`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: EtlPipelineProps | None = None, **kwargs: Any
    ) -> None:
        props = props_of("EtlPipeline", EtlPipelineProps, props, kwargs)
        super().__init__(scope, construct_id)
        self.props = props = props or EtlPipelineProps()
        landing = props.landing_settings()
        self.landing = RawLanding(self, "Landing", _props(RawLandingProps, "landing", landing))
        self.ledger = ProcessingLedger(self, "Ledger", props.ledger_props())
        settings = props.workflow_settings()
        prefix = self.landing.props.input_prefix
        if settings.get("input_prefix", prefix) != prefix:
            raise ConfigurationError(
                f"EtlPipeline: workflow['input_prefix'] {settings['input_prefix']!r} differs from the landing's"
                f" {prefix!r}: set it once, as input_prefix"
            )
        settings.update(
            raw_bucket=self.landing.bucket,
            quarantine_bucket=self.landing.quarantine_bucket,
            ledger=self.ledger,
            input_prefix=prefix,
            quarantine_prefix=self.landing.quarantine_prefix,
            data=props.resolved_data(),
            logs_bucket=self.landing.logs_bucket,
            ingest_dead_letter_queue=self.landing.dead_letter_queue,
        )
        self.workflow = ValidateTransformWorkflow(
            self, "Workflow", _props(ValidateTransformWorkflowProps, "workflow", settings)
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
    def table(self) -> dynamodb.ITable:
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
        for address in emails:
            if "@" not in address:
                raise ConfigurationError(f"EtlPipeline.notify: {address!r} is not an e-mail address")
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(address))
        for channel in chat:
            channel.add_notification_topic(self.alarm_topic)
