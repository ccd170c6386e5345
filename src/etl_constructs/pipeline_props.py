"""EtlPipelineProps and its option classes: every setting of the pipeline, each in exactly one place.

A setting of a part (RawLandingProps, ProcessingLedgerProps, ValidateTransformWorkflowProps,
EtlAlarmsProps) reaches it from one field here: the common ones at the top level of EtlPipelineProps,
the rest in `LandingOptions` and `WorkflowOptions`, the ledger's in `ledger`. The tables below say
where each part's field comes from; `tests/constructs/test_pipeline_fields.py` holds them to the code.
"""

# ruff: noqa: RUF009 (`_like` returns a dataclasses.field, which ruff cannot tell)

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from .alarms import AlarmThresholds, EtlAlarmsProps
from .data_settings import DataSettings
from .definition import RetryPolicy
from .errors import ConfigurationError, UnknownSettingError, check_types, refuse_snapshot
from .landing import RawLandingProps
from .ledger import ProcessingLedgerProps
from .workflow import ValidateTransformWorkflowProps


def _like(cls: type[Any], name: str) -> Any:
    """A field whose default is `cls`'s default for `name`: each default is written once, on the part."""
    spec: Field[Any] = cls.__dataclass_fields__[name]
    if spec.default_factory is not MISSING:
        return field(default_factory=spec.default_factory)
    return field(default=spec.default)


@dataclass(frozen=True)
class LandingOptions:
    """RawLanding settings that EtlPipelineProps does not hold at its top level.

    Attributes:
        quarantine_prefix: key prefix of quarantined copies and their reports. Default: "quarantine/".
        glacier_after_days: days before the raw and quarantine buckets' objects move to Glacier; None
            keeps them in Standard. Default: 90.
        noncurrent_version_expiration_days: days a replaced object version is kept. Default: 90.
        event_retry_attempts: EventBridge delivery attempts before the dead-letter queue. Default: 10.
        event_max_age: how long EventBridge keeps trying a delivery. Default: 24 hours.
        archive_retention: keep an EventBridge archive of the matched events this long, for replays.
            Default: none (no archive).
    """

    quarantine_prefix: str = _like(RawLandingProps, "quarantine_prefix")
    glacier_after_days: int | None = _like(RawLandingProps, "glacier_after_days")
    noncurrent_version_expiration_days: int = _like(RawLandingProps, "noncurrent_version_expiration_days")
    event_retry_attempts: int = _like(RawLandingProps, "event_retry_attempts")
    event_max_age: Duration = _like(RawLandingProps, "event_max_age")
    archive_retention: Duration | None = _like(RawLandingProps, "archive_retention")


@dataclass(frozen=True)
class WorkflowOptions:
    """ValidateTransformWorkflow settings that EtlPipelineProps does not hold at its top level.

    Attributes:
        output_prefix: key prefix of the JSON Lines output. Default: "processed/".
        staging_prefix: a prefix whose objects expire after a day; output is no longer staged there (output keys
            keep room for it, so they stay as they were). Default: "_staging/".
        runtime: the functions' Python runtime. Default: Python 3.14.
        ephemeral_storage_mb: /tmp of both functions, where the duplicate-id check spills. Default: 2048.
        log_level: what the data-path machines log: ERROR on EXPRESS keeps each failure and leaves every
            file's steps to the ledger; ALL logs every state of every file. Default: ERROR on EXPRESS, ALL on
            STANDARD.
        include_execution_data: log the data passing through states (it is financial data). Default: False.
        sweep_interval: how often the sweep settles what was left unsettled, 5 minutes to 1 day.
            Default: 15 minutes.
        metrics_namespace: CloudWatch namespace of the functions' metrics. Default: "EtlPipeline".
        service_name: Powertools service name (metric dimension, log key). Default: the workflow's path.
        large_file_mb: with an EXPRESS data path, files larger than this run on a STANDARD twin, with the
            full timeouts; None runs every file on EXPRESS (5 minutes at most). Another value on a STANDARD
            data path is refused (it would route nothing). Default: 256.
    """

    output_prefix: str = _like(ValidateTransformWorkflowProps, "output_prefix")
    staging_prefix: str = _like(ValidateTransformWorkflowProps, "staging_prefix")
    runtime: lambda_.Runtime = _like(ValidateTransformWorkflowProps, "runtime")
    ephemeral_storage_mb: int = _like(ValidateTransformWorkflowProps, "ephemeral_storage_mb")
    log_level: sfn.LogLevel | None = _like(ValidateTransformWorkflowProps, "log_level")
    include_execution_data: bool = _like(ValidateTransformWorkflowProps, "include_execution_data")
    sweep_interval: Duration = _like(ValidateTransformWorkflowProps, "sweep_interval")
    metrics_namespace: str = _like(ValidateTransformWorkflowProps, "metrics_namespace")
    service_name: str | None = _like(ValidateTransformWorkflowProps, "service_name")
    large_file_mb: int | None = _like(ValidateTransformWorkflowProps, "large_file_mb")


#: Each part's fields and where EtlPipelineProps takes them from: a field of its own (a dotted path
#: for one inside `data`, `landing` or `workflow`), or WIRED when EtlPipeline connects the parts.
WIRED = None
LANDING_SOURCES: dict[str, str | None] = {
    "existing_bucket": "existing_raw_bucket",
    "bucket_props": "raw_bucket_props",
    "input_prefix": "input_prefix",
    "suffixes": "data.suffixes",
    "encryption_key": "encryption_key",
    "logs_bucket": "existing_logs_bucket",
    "existing_quarantine_bucket": "existing_quarantine_bucket",
    "quarantine_prefix": "landing.quarantine_prefix",
    "glacier_after_days": "landing.glacier_after_days",
    "noncurrent_version_expiration_days": "landing.noncurrent_version_expiration_days",
    "removal_policy": "removal_policy",
    "auto_delete_objects": "auto_delete_objects",
    "event_retry_attempts": "landing.event_retry_attempts",
    "event_max_age": "landing.event_max_age",
    "dead_letter_queue_props": "dead_letter_queue_props",
    "archive_retention": "landing.archive_retention",
}
WORKFLOW_SOURCES: dict[str, str | None] = {
    "raw_bucket": WIRED,
    "quarantine_bucket": WIRED,
    "ledger": WIRED,
    "input_prefix": "input_prefix",
    "quarantine_prefix": "landing.quarantine_prefix",
    "data": "data",
    "existing_processed_bucket": "existing_processed_bucket",
    "processed_bucket_props": "processed_bucket_props",
    "output_prefix": "workflow.output_prefix",
    "staging_prefix": "workflow.staging_prefix",
    "encryption_key": "encryption_key",
    "logs_bucket": WIRED,  # the landing's: existing_logs_bucket, or the one it creates
    "runtime": "workflow.runtime",
    "validate_memory_mb": "validate_memory_mb",
    "transform_memory_mb": "transform_memory_mb",
    "ephemeral_storage_mb": "workflow.ephemeral_storage_mb",
    "validate_timeout": "validate_timeout",
    "transform_timeout": "transform_timeout",
    "reserved_concurrency": "reserved_concurrency",
    "log_retention": "log_retention",
    "execution_timeout": "execution_timeout",
    "state_machine_type": "state_machine_type",
    "large_file_mb": "workflow.large_file_mb",
    "log_level": "workflow.log_level",
    "include_execution_data": "workflow.include_execution_data",
    "function_props": "function_props",
    "state_machine_props": "state_machine_props",
    "sweep_interval": "workflow.sweep_interval",
    "ingest_dead_letter_queue": WIRED,
    "retry": "retry",
    "throttle_retry": "throttle_retry",
    "vpc": "vpc",
    "vpc_subnets": "vpc_subnets",
    "security_groups": "security_groups",
    "metrics_namespace": "workflow.metrics_namespace",
    "service_name": "workflow.service_name",
    "removal_policy": "removal_policy",
    "auto_delete_objects": "auto_delete_objects",
    "dead_letter_queue_props": "dead_letter_queue_props",
}
ALARMS_SOURCES: dict[str, str | None] = {
    "functions": WIRED,
    "state_machine": WIRED,
    "large_file_state_machine": WIRED,
    "reconciler": WIRED,
    "sweep": WIRED,
    "sweep_interval": "workflow.sweep_interval",
    "dead_letter_queues": WIRED,
    "metrics_namespace": "workflow.metrics_namespace",
    "service_name": WIRED,  # the workflow's resolved service name
    "topic": "alarm_topic",
    "encryption_key": "encryption_key",
    "removal_policy": "removal_policy",
    "thresholds": "alarm_thresholds",
    "dashboard_name": "dashboard_name",
    "create_dashboard": "create_dashboard",
    "topic_props": "alarm_topic_props",
}
#: ProcessingLedgerProps fields the top level fills in when `ledger` leaves them at their default.
LEDGER_SHARED = ("encryption_key", "removal_policy")


@dataclass(frozen=True)
class EtlPipelineProps:
    """One props object for the whole pipeline; every field has a default, and each setting has one place.

    Attributes:
        data: the data contract's settings (suffixes, required fields, fee rate, rounding...). Default: DataSettings().
        input_prefix: only keys under it are processed. Default: "" (the whole raw bucket).
        removal_policy: for buckets, table, keys and log groups. Default: RETAIN (it is financial data).
        auto_delete_objects: empty the buckets when the stack is deleted (needs DESTROY). Default: False.
        encryption_key: one KMS key for buckets, table, log groups and the alarm topic. Default: AWS-managed
            encryption (and a key of its own for the alarm topic, which CloudWatch needs).
        existing_raw_bucket: your landing bucket (versioned; EventBridge is turned on). Default: a new bucket.
        raw_bucket_props: `s3.Bucket` keyword arguments over the raw bucket's defaults. Default: none.
        existing_quarantine_bucket: your bucket for rejected files. Default: a new bucket.
        existing_processed_bucket: your bucket for the output. Default: a new bucket.
        processed_bucket_props: `s3.Bucket` keyword arguments over the processed bucket's defaults. Default: none.
        existing_logs_bucket: your bucket for S3 server access logs. Default: a new logs bucket.
        validate_memory_mb: the validate function's memory. Default: 768.
        transform_memory_mb: the transform function's memory. Default: 1024.
        validate_timeout: Default: 5 minutes (2 with an EXPRESS data path without its STANDARD twin).
        transform_timeout: Default: 15 minutes (2 likewise).
        execution_timeout: the whole execution's limit (the STANDARD machine's, when files are routed by
            size). Default: 1 hour (5 minutes likewise).
        log_retention: retention of every log group. Default: one year.
        reserved_concurrency: each function's reserved concurrency: how many files a step processes at
            once; the rest wait their turn on the throttling budget. Default: none (the account's pool).
        state_machine_type: EXPRESS (files larger than `workflow.large_file_mb` handed to a STANDARD twin)
            or STANDARD (every file on one STANDARD machine). Default: EXPRESS, or STANDARD with
            `data.control_totals` (a file may wait for its control record longer than EXPRESS runs).
        retry: backoff of every task's faults. Default: RetryPolicy() (2 s doubling to 60 s, 5 retries).
        throttle_retry: backoff for throttling, a budget of its own; past it a file waits DEFERRED for the
            sweep. Default: about 17 minutes of waits at each function step, fewer when the execution
            timeout is shorter (see ValidateTransformWorkflowProps).
        vpc: run the validate and transform functions in your VPC. Default: none.
        vpc_subnets: subnets within `vpc`. Default: its private subnets.
        security_groups: for the functions in `vpc`. Default: one created by CDK.
        function_props: `lambda_.Function` keyword arguments over both data functions' defaults; what
            the pipeline sets, or has a field for, is refused naming it. Default: none.
        state_machine_props: `sfn.StateMachine` keyword arguments over the data path's defaults; its
            definition, role, logs, type and timeout are refused. Default: none.
        dead_letter_queue_props: `sqs.Queue` keyword arguments over both dead-letter queues' defaults
            (the landing's and the reconciler's); encryption, TLS, type and `queue_name` (two queues
            cannot share one) are refused. Default: none.
        alarm_topic: SNS topic for the alarms, used as it is. Default: a new encrypted topic.
        alarm_topic_props: `sns.Topic` keyword arguments over the new topic's defaults; not with
            alarm_topic. Default: none.
        alarm_thresholds: Default: AlarmThresholds() (alarm on the first occurrence).
        create_dashboard: a CloudWatch dashboard of the alarms and metrics. Default: True.
        dashboard_name: Default: generated.
        landing: the landing's other settings. Default: LandingOptions().
        ledger: the ledger's props. `encryption_key` and `removal_policy` left unset there take the
            values above; set in both places to different values, they are a ConfigurationError.
            Default: ProcessingLedgerProps() with those two filled in.
        workflow: the workflow's other settings. Default: WorkflowOptions().
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
    processed_bucket_props: Mapping[str, Any] | None = None
    existing_logs_bucket: s3.IBucket | None = None
    validate_memory_mb: int = _like(ValidateTransformWorkflowProps, "validate_memory_mb")
    transform_memory_mb: int = _like(ValidateTransformWorkflowProps, "transform_memory_mb")
    validate_timeout: Duration = _like(ValidateTransformWorkflowProps, "validate_timeout")
    transform_timeout: Duration = _like(ValidateTransformWorkflowProps, "transform_timeout")
    execution_timeout: Duration = _like(ValidateTransformWorkflowProps, "execution_timeout")
    log_retention: logs.RetentionDays = _like(ValidateTransformWorkflowProps, "log_retention")
    reserved_concurrency: int | None = None
    state_machine_type: sfn.StateMachineType | None = _like(ValidateTransformWorkflowProps, "state_machine_type")
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    throttle_retry: RetryPolicy | None = None
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] | None = None
    function_props: Mapping[str, Any] | None = None
    state_machine_props: Mapping[str, Any] | None = None
    dead_letter_queue_props: Mapping[str, Any] | None = None
    alarm_topic: sns.ITopic | None = None
    alarm_topic_props: Mapping[str, Any] | None = None
    alarm_thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    create_dashboard: bool = True
    dashboard_name: str | None = None
    landing: LandingOptions = field(default_factory=LandingOptions)
    ledger: ProcessingLedgerProps | None = None
    workflow: WorkflowOptions = field(default_factory=WorkflowOptions)

    def __post_init__(self) -> None:
        for name, cls, sources in (
            ("landing", LandingOptions, LANDING_SOURCES),
            ("workflow", WorkflowOptions, WORKFLOW_SOURCES),
        ):
            given = getattr(self, name)
            if isinstance(given, Mapping):
                raise ConfigurationError(_dict_refusal(name, cls, given, sources))
            if not isinstance(given, cls):
                raise ConfigurationError(f"EtlPipeline: {name} takes a {cls.__name__}, not {type(given).__name__}")
        check_types(self, "EtlPipeline")
        check_types(self.landing, "EtlPipeline landing")
        check_types(self.workflow, "EtlPipeline workflow")
        if self.ledger is not None and not isinstance(self.ledger, ProcessingLedgerProps):
            raise ConfigurationError(
                f"EtlPipeline: ledger takes a ProcessingLedgerProps, not {type(self.ledger).__name__}:"
                " ledger=ProcessingLedgerProps(...)"
            )
        if self.existing_raw_bucket is not None and self.raw_bucket_props:
            raise ConfigurationError("EtlPipeline: give existing_raw_bucket or raw_bucket_props, not both")
        if self.auto_delete_objects and self.removal_policy != RemovalPolicy.DESTROY:
            raise ConfigurationError("EtlPipeline: auto_delete_objects needs removal_policy=RemovalPolicy.DESTROY")
        refuse_snapshot("EtlPipeline", self.removal_policy, "buckets, tables or keys")
        if not self.create_dashboard and self.dashboard_name is not None:
            raise ConfigurationError("EtlPipeline: dashboard_name names a dashboard create_dashboard=False leaves out")
        if "queue_name" in (self.dead_letter_queue_props or {}):
            raise ConfigurationError(
                "EtlPipeline: dead_letter_queue_props apply to two queues (the landing's and the reconciler's),"
                " which cannot share queue_name: name them on the parts"
                " (RawLandingProps, ValidateTransformWorkflowProps)"
            )
        self.ledger_props()
        self.landing_props()  # its checks, before any construct exists
        EtlAlarmsProps(**self._settings(ALARMS_SOURCES))

    def _settings(self, sources: Mapping[str, str | None]) -> dict[str, Any]:
        """A part's keyword arguments from the fields `sources` names; the wired ones are left out."""
        settings = {}
        for name, source in sources.items():
            if source is WIRED:
                continue
            value: Any = self
            for step in source.split("."):
                value = getattr(value, step)
            settings[name] = value
        return settings

    def landing_props(self) -> RawLandingProps:
        """RawLanding's props, from the fields LANDING_SOURCES names."""
        return RawLandingProps(**self._settings(LANDING_SOURCES))

    def workflow_settings(self) -> dict[str, Any]:
        """ValidateTransformWorkflowProps' keyword arguments, but the parts EtlPipeline wires."""
        return self._settings(WORKFLOW_SOURCES)

    def alarms_settings(self) -> dict[str, Any]:
        """EtlAlarmsProps' keyword arguments, but the parts EtlPipeline wires."""
        return self._settings(ALARMS_SOURCES)

    def ledger_props(self) -> ProcessingLedgerProps:
        """The ledger's props: `ledger`, with `encryption_key` and `removal_policy` filled in where it
        leaves them at their defaults (a table of your own takes neither: it is used as it is)."""
        ledger = self.ledger or ProcessingLedgerProps()
        if ledger.existing_table is not None:
            return ledger
        filled = {}
        for name in LEDGER_SHARED:
            mine, theirs = getattr(self, name), getattr(ledger, name)
            if theirs is None:  # left unset on the ledger: the pipeline's
                filled[name] = mine
            elif not _same(mine, EtlPipelineProps.__dataclass_fields__[name].default) and not _same(mine, theirs):
                raise ConfigurationError(
                    f"EtlPipeline: {name} and ledger.{name} differ: give the setting once, as {name}"
                )
        return replace(ledger, **filled)


def _same(a: Any, b: Any) -> bool:
    """The same setting: the same object, or equal values (a jsii object may refuse comparison)."""
    try:
        return a is b or bool(a == b)
    except Exception:
        return False


def _dict_refusal(name: str, cls: type[Any], given: Mapping[str, Any], sources: Mapping[str, str | None]) -> str:
    """The message for a `landing`/`workflow` dict: each of its keys where it belongs now."""
    own = {f.name for f in fields(cls)}
    places = []
    for key in given:
        if key in own:
            places.append(f"{name}={cls.__name__}({key}=...)")
        elif key in sources:
            places.append(_placed(key, sources[key]))
        else:
            places.append(_where(key))
    return f"EtlPipeline: {name} takes a {cls.__name__}, not a dict; each setting has one place: " + "; ".join(places)


def _placed(key: str, source: str | None) -> str:
    """Where a part's setting `key` is given to EtlPipeline, from its entry in a *_SOURCES table."""
    if source is WIRED:
        return f"{key}: set by EtlPipeline"
    if source.startswith("data."):
        return f"data=DataSettings({source.split('.', 1)[1]}=...)"
    if "." not in source:
        return f"EtlPipelineProps({source}=...)"
    part, field_name = source.split(".", 1)
    return f"{part}={part.capitalize()}Options({field_name}=...)"


def _where(key: str) -> str:
    """Where setting `key`, given where it does not belong, goes: its place, or the nearest setting's."""
    if key not in {f.name for f in fields(EtlPipelineProps)}:
        for sources in (WORKFLOW_SOURCES, LANDING_SOURCES, ALARMS_SOURCES):  # a part's name for it
            if key in sources:
                return _placed(key, sources[key])
    places = _places()
    if key in places:
        return places[key]
    close = difflib.get_close_matches(key, list(places), n=1)
    return f"{key}: no such setting" + (f" (did you mean {places[close[0]]}?)" if close else "")


def _places() -> dict[str, str]:
    """Each setting's name and how it is given to EtlPipelineProps; a name's first place wins."""
    classes: tuple[tuple[str, type[Any]], ...] = (
        ("", EtlPipelineProps),
        ("landing", LandingOptions),
        ("workflow", WorkflowOptions),
        ("data", DataSettings),
        ("ledger", ProcessingLedgerProps),
    )
    places: dict[str, str] = {}
    for part, cls in classes:
        for spec in fields(cls):
            places.setdefault(
                spec.name, f"{part}={cls.__name__}({spec.name}=...)" if part else f"EtlPipelineProps({spec.name}=...)"
            )
    return places


def _placing_unknown_settings(cls: type[Any]) -> None:
    """Make `cls(...)` refuse a keyword it has no field for with where that setting goes (a
    ConfigurationError, as for every other setting, and a TypeError), not Python's bare TypeError."""
    init = cls.__init__
    own = frozenset(f.name for f in fields(cls))

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        unknown = [key for key in kwargs if key not in own]
        if unknown:
            raise UnknownSettingError(
                f"EtlPipeline: {cls.__name__} has no setting {', '.join(unknown)}: " + "; ".join(map(_where, unknown))
            )
        init(self, *args, **kwargs)

    cls.__init__ = __init__


for _options in (EtlPipelineProps, LandingOptions, WorkflowOptions):
    _placing_unknown_settings(_options)
