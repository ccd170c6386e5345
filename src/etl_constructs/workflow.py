"""ValidateTransformWorkflow: the two functions, the processed bucket, and the state machines."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Duration, Names, RemovalPolicy, Size, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .assets import ASSET_EXCLUDES, asset_with_schema, handler_asset_dir
from .checks import refuse_self_feeding
from .data_settings import SCHEMA_FILE, DataSettings
from .defaults import (
    check_bucket_props,
    check_dead_letter_queue_props,
    data_bucket_props,
    dead_letter_queue_props,
    logs_bucket_props,
    use_log_delivery_policy,
    with_overrides,
)
from .definition import Resources, RetryPolicy, data_path, reconciler
from .errors import ConfigurationError, check_overrides, props_of, refuse_snapshot
from .key_policies import allow_on_key, logs_statement
from .ledger import STATUS_INDEX, ProcessingLedger
from .nag import (
    OBJECTS_UNDER_PREFIX,
    XRAY_AND_LOG_DELIVERY,
    acknowledge,
    acknowledge_bucket,
    acknowledge_dead_letter_queue,
    acknowledge_own_policies,
    acknowledge_wildcard,
)
from .patterns import suffix_checked_by_rule, suffix_variants

#: Name prefixes of the log groups: Step Functions' vended-logs prefix, and Lambda's own.
STATES_LOG_PREFIX = "/aws/vendedlogs/states/"
LAMBDA_LOG_PREFIX = "/aws/lambda/"
#: What each caller of a KMS key does with it: S3 and DynamoDB need no more than these.
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html
KMS_READ = ("kms:Decrypt",)
KMS_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")  # a multipart upload decrypts its own parts
KMS_LEDGER = ("kms:Decrypt", "kms:DescribeKey")
VALIDATE_HANDLER = "etl_handlers.validate_handler.handler"
TRANSFORM_HANDLER = "etl_handlers.transform_handler.handler"
SWEEP_HANDLER = "etl_handlers.sweep_handler.handler"
#: How long past an execution's timeout the sweep leaves an unsettled item to the reconciler.
SWEEP_GRACE = Duration.minutes(10)
_SWEEP_TIMEOUT = Duration.minutes(5)
_SAFE_PREFIX = frozenset("{}'\\\"")
_EXPRESS_LIMIT = Duration.minutes(5)
#: How long an EXPRESS entry's function step waits for its function, when the functions' own timeouts are the
#: STANDARD twin's: two steps and the throttling waits fit the 5 minutes.
_EXPRESS_STEP = Duration.minutes(2)
#: What the STANDARD twin's name adds to a name given in `state_machine_props`, and the most a name may hold
#: (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html).
_TWIN_SUFFIX = "-large-files"
_MAX_MACHINE_NAME = 80
#: The characters CDK (and Step Functions) allow in a state machine's name.
_MACHINE_NAME = re.compile(r"[a-z0-9+!@.()\-=_']+", re.IGNORECASE)
#: The timeouts' defaults, one object each: a field holding that very object was left unset, so EXPRESS
#: may derive it; a Duration you give (even an equal one) is kept, and refused if it cannot fit.
_UNSET_TIMEOUTS = {
    "validate_timeout": Duration.minutes(5),
    "transform_timeout": Duration.minutes(15),
    "execution_timeout": Duration.hours(1),
}
#: The Python releases the handlers run on (they use 3.11's standard library).
_MIN_PYTHON = (3, 11)
#: Function settings the pipeline owns: None where it sets them itself, else the field to use instead.
_FUNCTION_OWNED: dict[str, str | None] = {
    "code": None,
    "function_name": None,  # it would name both functions alike
    "handler": None,
    "role": None,
    "environment": None,
    "log_group": None,
    "log_retention": "log_retention",
    "runtime": "runtime",
    "memory_size": "validate_memory_mb / transform_memory_mb",
    "timeout": "validate_timeout / transform_timeout",
    "reserved_concurrent_executions": "reserved_concurrency",
    "ephemeral_storage_size": "ephemeral_storage_mb",
    "vpc": "vpc",
    "vpc_subnets": "vpc_subnets",
    "security_groups": "security_groups",
}
_STATE_MACHINE_OWNED: dict[str, str | None] = {
    "definition": None,
    "definition_body": None,
    "definition_substitutions": None,
    "role": None,
    "logs": "log_level / include_execution_data",
    "state_machine_type": "state_machine_type",
    "timeout": "execution_timeout",
}
_RECONCILER_TIMEOUT = Duration.hours(2)
#: The default size (MiB) above which an EXPRESS data path hands a file to its STANDARD twin.
_LARGE_FILE_MB = 256


@dataclass(frozen=True)
class ValidateTransformWorkflowProps:
    """Props of ValidateTransformWorkflow. `raw_bucket`, `quarantine_bucket` and `ledger` are required.

    Attributes:
        raw_bucket: where files land (RawLanding.bucket).
        quarantine_bucket: where rejected files are copied (RawLanding.quarantine_bucket).
        ledger: the ProcessingLedger the steps record to.
        input_prefix: the raw bucket's input prefix; the functions may read only under it. Default: "".
        quarantine_prefix: key prefix in the quarantine bucket. Default: "quarantine/".
        data: the data contract's settings. Default: DataSettings().
        existing_processed_bucket: your own bucket for output. Default: a new bucket.
        processed_bucket_props: `s3.Bucket` keyword arguments over the defaults. Default: none.
        output_prefix: key prefix of the JSON Lines output. Default: "processed/".
        staging_prefix: a key prefix whose objects and their old versions expire after a day. Output is no
            longer staged there (it is written straight to its final key, visible only when whole); output
            keys still leave room for it, so they stay as they were. Default: "_staging/".
        encryption_key: a KMS key for the processed bucket and the log groups; a key of this app gets
            the key-policy statement CloudWatch Logs needs, an imported key a warning naming it.
            Default: AWS-managed keys.
        logs_bucket: bucket for the processed bucket's access logs. Default: a new logs bucket.
        runtime: the functions' Python runtime. Default: the newest aws-cdk-lib offers (Python 3.14).
        validate_memory_mb: validate function memory. Memory is bounded: the duplicate-id check keeps
            ids exactly in memory up to a quarter of it, shared by the schema's unique fields (192 MiB at
            768 MB, about 1.8 million ids of 11 characters), then about 5 bytes per id, spilling the ids
            to /tmp (peaks of 117 MB at 1 million rows and 260 MB at 14 million, with one unique field).
            Lambda bills the memory given, not the memory used, and gives CPU in proportion to it: 768 MB
            validates a 1 GB file in about two minutes, well inside `validate_timeout`, at the same
            compute GB-seconds as 1024 MB and for less while waiting on S3 (see bench/README.md).
            Default: 768.
        transform_memory_mb: transform function memory. Default: 1024.
        ephemeral_storage_mb: /tmp of both functions, where the duplicate-id check spills its ids:
            under twice the file's size in the worst case (CSV ids of backslashes), about 530 MB for
            14 million UUID ids, past Lambda's default 512 MB. Default: 2048 (a 1 GB file at worst).
        validate_timeout: the validate function's timeout. Default: 5 minutes.
        transform_timeout: the transform function's timeout. Default: 15 minutes.
        log_retention: retention of every log group. Default: one year.
        execution_timeout: the whole execution's limit: the STANDARD machine's (the twin's, when files are
            routed by size). Default: 1 hour.
        state_machine_type: EXPRESS or STANDARD. EXPRESS bills a file's execution by its duration, not by
            its 6 or more state transitions (0.41 of the cost at 1 MB files, see the README); it runs 5
            minutes at most, at least once, and emits no status-change events, so an execution that ends
            without settling its item is settled by the sweep, not the reconciler. Files larger than
            `large_file_mb` are handed to a STANDARD twin, which has every timeout above; on the EXPRESS
            machine each function step waits 2 minutes at most (the function's timeout, if shorter). With
            `large_file_mb=None`, every file runs on EXPRESS, and timeouts left unset become 5 minutes for
            the execution and 2 for each function. Default: EXPRESS, or STANDARD with `data.control_totals`
            (a file may wait for its control record longer than EXPRESS runs).
        large_file_mb: with EXPRESS, files larger than this (the S3 event's object size, in MiB) run on the
            STANDARD twin. At their default memory the streaming functions validate about 13 MB/s and
            transform about 16 MB/s of CSV (the CPU seconds per MB of bench/README.md, at the share of a
            vCPU the memory buys): 256 MiB takes about 20 seconds a step, a sixth of the 2 minutes an
            EXPRESS step may wait, leaving room for a slower format, a slow S3 and throttling waits.
            Reprocessing, backfills and the sweep's restarts start the twin, whatever the size.
            None: no twin. Refused on a STANDARD data path, unless None or the default. Default: 256.
        log_level: what the data-path machines log to CloudWatch Logs. EXPRESS keeps no execution history
            of its own; at ALL it logs about two events for each state of every file (7 states a valid file),
            while the ledger already records every step of every file with its time. At ERROR it logs every
            failed task (retried or caught: a throttled invocation, a repeat delivery's conditional check),
            failed state and failed, timed-out or aborted execution, which is what an investigation starts
            from. Give LogLevel.ALL to log every state of every file. cdk-nag's AwsSolutions-SF1 is
            acknowledged at ERROR; below it (FATAL, OFF) it is yours to acknowledge. Default: ERROR on
            EXPRESS, ALL on STANDARD (both machines take a level given here).
        include_execution_data: log the data passing through states (it is financial data). Default: False.
        function_props: `lambda_.Function` keyword arguments over the validate and transform functions'
            defaults (for example `architecture`, `description`, `layers`, `environment_encryption`). What
            the pipeline sets itself (code, handler, role, environment, log group) is refused, and so is
            what has a field here (memory, timeouts, runtime, VPC, concurrency, /tmp), naming it. Default: none.
        state_machine_props: `sfn.StateMachine` keyword arguments over the data path's defaults (for
            example `state_machine_name`, `comment`, `encryption_configuration`), on both data-path machines
            (the STANDARD twin's name gets `-large-files`). Its definition, role, logs, type and timeout are
            refused (the last two have fields here). Default: none.
        sweep_interval: how often the sweep runs. It settles ledger items left non-final for longer than
            `execution_timeout` plus 10 minutes (the reconciler failed) or, the EXPRESS machine's, the longest
            function timeout plus 10 minutes (EXPRESS sends no status-change events), hands
            the reconciler's dead-lettered and parked events to it again (3 times at most), and starts
            the data path for the events in `ingest_dead_letter_queue`. It runs outside `vpc`, reading
            only ledger keys. Between 5 minutes and 1 day. Default: 15 minutes.
        ingest_dead_letter_queue: the queue of S3 events whose execution could not be started
            (RawLanding.dead_letter_queue); the sweep starts them. Default: none (EtlPipeline sets it).
        retry: backoff for every task's faults. Default: RetryPolicy() (2 s doubling to 60 s, 5 retries).
        throttle_retry: backoff for throttling (`Lambda.TooManyRequestsException`, DynamoDB throttling), a
            budget of its own at each function step: a burst must wait its turn, never fail a file; past it
            the file waits DEFERRED for the sweep. Its waits must stay under `execution_timeout` (refused
            otherwise), and a warning says when both steps' waits and both functions' timeouts do not fit it.
            Default: RetryPolicy.for_throttling(execution_timeout, validate_timeout + transform_timeout):
            5 s doubling to 60 s, 20 retries (about 17 minutes of waits) under the default hour and
            functions, 2 under EXPRESS.
        reserved_concurrency: reserved concurrent executions per function: the limit on how many files
            each step processes at once; files past it wait on the throttling budget. Default: none.
        vpc: run the functions in your VPC. Default: none.
        vpc_subnets: subnets within `vpc`. Default: private subnets.
        security_groups: for the functions in `vpc`. Default: one created by CDK.
        metrics_namespace: CloudWatch namespace of the functions' metrics. Default: "EtlPipeline".
        service_name: Powertools service name (metric dimension, log key). Default: the construct's path.
        removal_policy: for the processed bucket and the log groups. Default: RETAIN.
        auto_delete_objects: empty the processed bucket on deletion (only with DESTROY). Default: False.
        dead_letter_queue_props: `sqs.Queue` keyword arguments over the reconciler dead-letter queue's
            defaults (for example `queue_name`, `retention_period` of a day or more). Its encryption
            (SQS-managed), TLS-only policy and standard type are refused. Default: none (kept 14 days).
    """

    raw_bucket: s3.IBucket
    quarantine_bucket: s3.IBucket
    ledger: ProcessingLedger
    input_prefix: str = ""
    quarantine_prefix: str = "quarantine/"
    data: DataSettings = field(default_factory=DataSettings)
    existing_processed_bucket: s3.IBucket | None = None
    processed_bucket_props: Mapping[str, Any] | None = None
    output_prefix: str = "processed/"
    staging_prefix: str = "_staging/"
    encryption_key: kms.IKey | None = None
    logs_bucket: s3.IBucket | None = None
    runtime: lambda_.Runtime = field(default_factory=lambda: lambda_.Runtime.PYTHON_3_14)
    validate_memory_mb: int = 768
    transform_memory_mb: int = 1024
    ephemeral_storage_mb: int = 2048
    validate_timeout: Duration = field(default_factory=lambda: _UNSET_TIMEOUTS["validate_timeout"])
    transform_timeout: Duration = field(default_factory=lambda: _UNSET_TIMEOUTS["transform_timeout"])
    reserved_concurrency: int | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    execution_timeout: Duration = field(default_factory=lambda: _UNSET_TIMEOUTS["execution_timeout"])
    state_machine_type: sfn.StateMachineType | None = None
    large_file_mb: int | None = _LARGE_FILE_MB
    log_level: sfn.LogLevel | None = None
    include_execution_data: bool = False
    function_props: Mapping[str, Any] | None = None
    state_machine_props: Mapping[str, Any] | None = None
    sweep_interval: Duration = field(default_factory=lambda: Duration.minutes(15))
    ingest_dead_letter_queue: sqs.IQueue | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    throttle_retry: RetryPolicy | None = None
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] | None = None
    metrics_namespace: str = "EtlPipeline"
    service_name: str | None = None
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    auto_delete_objects: bool = False
    dead_letter_queue_props: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.existing_processed_bucket is not None and self.processed_bucket_props:
            raise ConfigurationError("give existing_processed_bucket or processed_bucket_props, not both")
        for name in ("input_prefix", "quarantine_prefix", "output_prefix", "staging_prefix"):
            value: str = getattr(self, name)
            if _SAFE_PREFIX & set(value) or value.startswith("/"):
                raise ConfigurationError(f"{name} {value!r} may not start with '/' or hold any of {{ }} ' \\ \"")
            if name != "input_prefix" and not value.endswith("/"):
                raise ConfigurationError(f"{name} must end with '/': {value!r}")
        if self.output_prefix == self.staging_prefix:
            raise ConfigurationError("output_prefix and staging_prefix must differ")
        for name in ("validate_memory_mb", "transform_memory_mb"):
            if not 128 <= getattr(self, name) <= 10240:
                raise ConfigurationError(f"{name} must be between 128 and 10240")
        if not 512 <= self.ephemeral_storage_mb <= 10240:
            raise ConfigurationError("ephemeral_storage_mb must be between 512 and 10240")
        check_overrides("function_props", self.function_props, lambda_.Function, _FUNCTION_OWNED)
        version = self.runtime.name.removeprefix("python").split(".")
        if not self.runtime.name.startswith("python") or tuple(map(int, version)) < _MIN_PYTHON:
            raise ConfigurationError(
                f"runtime {self.runtime.name} cannot run the handlers: give Python 3.11 or newer"
                " (default: lambda_.Runtime.PYTHON_3_14)"
            )
        check_overrides("state_machine_props", self.state_machine_props, sfn.StateMachine, _STATE_MACHINE_OWNED)
        check_dead_letter_queue_props("dead_letter_queue_props", self.dead_letter_queue_props)
        check_bucket_props("processed_bucket_props", self.processed_bucket_props)
        refuse_snapshot("ValidateTransformWorkflow", self.removal_policy, "S3 buckets and log groups")
        if self.state_machine_type is None:
            chosen = sfn.StateMachineType.STANDARD if self.data.control_totals else sfn.StateMachineType.EXPRESS
            object.__setattr__(self, "state_machine_type", chosen)
        if self.large_file_mb is not None and self.large_file_mb < 0:
            raise ConfigurationError(
                f"large_file_mb must be 0 or more (or None: no STANDARD twin): {self.large_file_mb}"
            )
        if self.state_machine_type == sfn.StateMachineType.EXPRESS and self.large_file_mb is None:
            self._fit_express()
        routes_nothing = self.large_file_mb not in (None, _LARGE_FILE_MB)
        if self.state_machine_type == sfn.StateMachineType.STANDARD and routes_nothing:
            raise ConfigurationError(
                f"large_file_mb={self.large_file_mb} routes files by size on an EXPRESS data path only; this one is"
                " STANDARD (state_machine_type, or data.control_totals), where every file has the full timeouts:"
                " leave large_file_mb unset"
            )
        for name in ("validate_timeout", "transform_timeout"):
            seconds = getattr(self, name).to_seconds()
            if not 1 <= seconds <= 900:
                raise ConfigurationError(f"{name} must be between 1 second and 15 minutes")
        longest = max(("validate_timeout", "transform_timeout"), key=lambda n: getattr(self, n).to_seconds())
        if self.execution_timeout.to_seconds() <= getattr(self, longest).to_seconds():
            raise ConfigurationError(
                f"execution_timeout must be longer than each function's timeout: it is"
                f" {self.execution_timeout.to_seconds():.0f} s, {longest} {getattr(self, longest).to_seconds():.0f} s;"
                f" give a longer execution_timeout or a shorter {longest}"
            )
        data = self.data
        if data.control_totals:
            # A data file may wait for its control record (each look reads only that key), then validate and
            # transform: all in one execution.
            wait = data.control_wait.to_milliseconds() / 1000
            needed = wait + self.validate_timeout.to_seconds() + self.transform_timeout.to_seconds()
            if needed >= self.execution_timeout.to_seconds():
                raise ConfigurationError(
                    f"data.control_wait ({wait:.0f} s), a validation and a transform"
                    f" ({needed:.0f} s in all) do not fit execution_timeout"
                    f" ({self.execution_timeout.to_seconds():.0f} s): give a shorter control_wait or a longer"
                    " execution_timeout (a STANDARD state machine, for a wait beyond minutes)"
                )
        given_name = (self.state_machine_props or {}).get("state_machine_name")
        if (
            isinstance(given_name, str)
            and not _MACHINE_NAME.fullmatch(given_name)
            and not Token.is_unresolved(given_name)
        ):
            raise ConfigurationError(
                f"state_machine_props state_machine_name {given_name!r}: Step Functions takes letters, digits and"
                " + ! @ . ( ) - = _ ' only"
            )
        if (
            self.routes_large_files
            and isinstance(given_name, str)
            and len(given_name + _TWIN_SUFFIX) > _MAX_MACHINE_NAME
        ):
            raise ConfigurationError(
                f"state_machine_props state_machine_name {given_name!r}: the STANDARD twin is named"
                f" {given_name + _TWIN_SUFFIX!r}, over Step Functions' {_MAX_MACHINE_NAME} characters; give a name of"
                f" {_MAX_MACHINE_NAME - len(_TWIN_SUFFIX)} characters at most"
            )
        if data.control_totals and self.routes_large_files:
            wait = data.control_wait.to_milliseconds() / 1000
            if wait + 2 * _EXPRESS_STEP.to_seconds() >= _EXPRESS_LIMIT.to_seconds():
                raise ConfigurationError(
                    f"data.control_wait ({wait:.0f} s) and two 2-minute steps do not fit an EXPRESS execution's"
                    " 5 minutes: leave state_machine_type unset (STANDARD with control totals) or give STANDARD"
                )
        if not 300 <= self.sweep_interval.to_seconds() <= 86400:
            raise ConfigurationError("sweep_interval must be between 5 minutes and 1 day")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ConfigurationError("reserved_concurrency must be 1 or more")
        for name in ("retry", "throttle_retry"):
            policy: RetryPolicy | None = getattr(self, name)
            if policy is not None and (policy.max_attempts < 1 or policy.backoff_rate < 1):
                raise ConfigurationError(f"{name} needs max_attempts >= 1 and backoff_rate >= 1")
        throttle = self.throttle_retry
        if throttle is not None and throttle.total_wait() >= self.execution_timeout.to_seconds():
            raise ConfigurationError(
                f"throttle_retry waits up to {throttle.total_wait():.0f} s, not less than execution_timeout"
                f" ({self.execution_timeout.to_seconds():.0f} s): give fewer max_attempts or a longer execution_timeout"
            )
        if self.auto_delete_objects and self.removal_policy != RemovalPolicy.DESTROY:
            raise ConfigurationError("auto_delete_objects needs removal_policy=RemovalPolicy.DESTROY")
        if self.vpc is None and (self.vpc_subnets is not None or self.security_groups):
            raise ConfigurationError("vpc_subnets and security_groups need vpc")

    @property
    def routes_large_files(self) -> bool:
        """True when files run on EXPRESS and the large ones on a STANDARD twin."""
        return self.state_machine_type == sfn.StateMachineType.EXPRESS and self.large_file_mb is not None

    def _fit_express(self) -> None:
        """EXPRESS runs 5 minutes at most: the timeouts left at their defaults are derived to fit
        (execution 5 minutes, each function 2), and those set that cannot fit are named in one error."""
        fitted = {"execution_timeout": 300, "validate_timeout": 120, "transform_timeout": 120}
        for name, unset in _UNSET_TIMEOUTS.items():
            if getattr(self, name) is unset:  # left unset (a value you give, even the default's, is yours)
                object.__setattr__(self, name, Duration.seconds(fitted[name]))
        limit = min(self.execution_timeout.to_seconds(), _EXPRESS_LIMIT.to_seconds())
        wrong = []
        if self.execution_timeout.to_seconds() > _EXPRESS_LIMIT.to_seconds():
            wrong.append(f"execution_timeout to 5 minutes at most (now {self.execution_timeout.to_seconds():.0f} s)")
        for name in ("validate_timeout", "transform_timeout"):
            if getattr(self, name).to_seconds() >= limit:
                wrong.append(f"{name} below {limit:.0f} s (now {getattr(self, name).to_seconds():.0f} s)")
        if wrong:
            raise ConfigurationError(
                "an EXPRESS state machine runs 5 minutes at most; set "
                + "; ".join(wrong)
                + " (or leave them unset: EXPRESS then uses 5 minutes, and 2 for each function)"
            )


def _running(props: ValidateTransformWorkflowProps) -> Duration:
    """The two functions' timeouts together: the most one execution spends running them."""
    return Duration.seconds(props.validate_timeout.to_seconds() + props.transform_timeout.to_seconds())


def _longest(props: ValidateTransformWorkflowProps) -> float:
    """The longer of the two functions' timeouts, in seconds: the most one invocation runs."""
    return max(props.validate_timeout.to_seconds(), props.transform_timeout.to_seconds())


class ValidateTransformWorkflow(Construct):
    """The validate and transform functions, the processed bucket, the state machine and its reconciler."""

    def __init__(
        self, scope: Construct, construct_id: str, props: ValidateTransformWorkflowProps, **kwargs: Any
    ) -> None:
        checked = props_of("ValidateTransformWorkflow", ValidateTransformWorkflowProps, props, kwargs)
        if checked is None:
            raise ConfigurationError("ValidateTransformWorkflow needs its props: raw_bucket, quarantine_bucket, ledger")
        props = checked
        super().__init__(scope, construct_id)
        use_log_delivery_policy(self)
        self.props = props
        #: The Powertools service name: the `service` dimension of the functions' metrics.
        self.service_name = props.service_name or self.node.path.replace("/", "-")
        # Object-ARN suffixes of the prefixes the steps read and write, for grants and acknowledgements.
        self._raw_suffix = "/" + props.input_prefix + "*"
        self._quarantine_suffix = "/" + props.quarantine_prefix + "*"
        self.processed_bucket: s3.IBucket = props.existing_processed_bucket or self._processed_bucket()
        refuse_self_feeding(
            self,
            props.raw_bucket,
            props.input_prefix,
            (
                ("output_prefix", self.processed_bucket, props.output_prefix),
                ("staging_prefix", self.processed_bucket, props.staging_prefix),
                ("quarantine_prefix", props.quarantine_bucket, props.quarantine_prefix),
            ),
        )
        self._log_group_names: list[str] = []
        self.validate_function = self._function(
            "Validate",
            VALIDATE_HANDLER,
            props.validate_memory_mb,
            props.validate_timeout,
            reserved_concurrency=props.reserved_concurrency,
            ephemeral_storage_mb=props.ephemeral_storage_mb,
        )
        self.transform_function = self._function(
            "Transform",
            TRANSFORM_HANDLER,
            props.transform_memory_mb,
            props.transform_timeout,
            reserved_concurrency=props.reserved_concurrency,
            ephemeral_storage_mb=props.ephemeral_storage_mb,
        )
        self._grant_functions()
        # What the sweep redrives: events the reconciler could not be started for, its own failures,
        # and the files whose RECEIVED could not be recorded.
        self.reconciler_dead_letter_queue = sqs.Queue(
            self, "ReconcilerDeadLetters", **dead_letter_queue_props(props.dead_letter_queue_props)
        )
        acknowledge_dead_letter_queue(self.reconciler_dead_letter_queue)
        given = props.throttle_retry
        if (
            given is not None
            and 2 * given.total_wait() + _running(props).to_seconds() > props.execution_timeout.to_seconds()
        ):
            Annotations.of(self).add_warning_v2(
                "etl-constructs:throttle-budget",
                f"throttle_retry waits up to {given.total_wait():.0f} s at each function step: a file throttled at"
                " both, its functions running to their timeouts, would reach execution_timeout before it is"
                " DEFERRED, and fail; give fewer max_attempts (RetryPolicy.for_throttling(execution_timeout,"
                " validate_timeout + transform_timeout) fits)",
            )
        resources = Resources(
            parking=self.reconciler_dead_letter_queue,
            table=props.ledger.table,
            validate_fn=self.validate_function,
            transform_fn=self.transform_function,
            retry=props.retry,
            throttle_retry=props.throttle_retry or RetryPolicy.for_throttling(props.execution_timeout, _running(props)),
            suffix_variants=()
            if suffix_checked_by_rule(props.input_prefix)
            else tuple(suffix_variants(props.data.suffixes)),
            control_interval=int(props.data.control_check_interval.to_seconds()) if props.data.control_totals else None,
        )
        #: The STANDARD twin that runs large files (and every restart), when files are routed by size.
        self.large_file_state_machine: sfn.StateMachine | None = None
        entry_resources, entry_timeout = resources, props.execution_timeout
        if props.routes_large_files:
            assert props.large_file_mb is not None
            overrides = dict(props.state_machine_props or {})
            if overrides.get("state_machine_name"):  # two machines cannot share one name
                overrides["state_machine_name"] = f"{overrides['state_machine_name']}{_TWIN_SUFFIX}"
            self.large_file_state_machine = self._data_machine(
                "LargeFile", resources, overrides, sfn.StateMachineType.STANDARD, props.execution_timeout
            )
            step = Duration.seconds(min(_EXPRESS_STEP.to_seconds(), _longest(props)))
            entry_timeout = _EXPRESS_LIMIT
            entry_resources = replace(
                resources,
                throttle_retry=RetryPolicy.for_throttling(_EXPRESS_LIMIT, Duration.seconds(2 * step.to_seconds())),
                step_timeout=step,
                large_file_bytes=props.large_file_mb * 1024 * 1024,
                large_file_machine=self.large_file_state_machine,
            )
        assert props.state_machine_type is not None  # resolved by the props
        self.state_machine = self._data_machine(
            "", entry_resources, props.state_machine_props or {}, props.state_machine_type, entry_timeout
        )
        # STANDARD, though it runs rarely: its own failures, time-outs included, must send the
        # status-change event that parks its input for the sweep (EXPRESS sends none), and the sweep's
        # execution names must be unique (they make a hand-over happen once).
        # https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
        self.reconciler = sfn.StateMachine(
            self,
            "Reconciler",
            definition_body=sfn.DefinitionBody.from_chainable(
                reconciler(Construct(self, "SettleSteps"), replace(resources, parking=None))
            ),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=_RECONCILER_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self._log_group("ReconcilerLogs", STATES_LOG_PREFIX),
                level=sfn.LogLevel.ALL,
                include_execution_data=props.include_execution_data,
            ),
        )
        for machine in (*self.data_machines, self.reconciler):
            acknowledge(machine, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", XRAY_AND_LOG_DELIVERY)
            acknowledge_own_policies(machine)
            acknowledge_wildcard(
                machine,
                self.validate_function.function_arn,
                ":*",
                "CDK's Lambda task grants the function's versions too (ARN:*), for a qualified invoke",
            )
            self._grant_ledger_key(machine)
            acknowledge_wildcard(
                machine,
                self.transform_function.function_arn,
                ":*",
                "CDK's Lambda task grants the function's versions too (ARN:*), for a qualified invoke",
            )
        self.unsettled_rule = self._ended_without_success(
            "ExecutionUnsettled",
            "Executions that ended without success: settle their ledger items if no catch did",
            self.data_machines,
            targets.SfnStateMachine(
                self.reconciler, dead_letter_queue=self.reconciler_dead_letter_queue, retry_attempts=10
            ),
        )
        self.reconciler_failed_rule = self._ended_without_success(
            "ReconcilerUnsettled",
            "Reconciler executions that ended without success: park their event for the sweep",
            (self.reconciler,),
            targets.SqsQueue(self.reconciler_dead_letter_queue, retry_attempts=10),
        )
        acknowledge(
            self.reconciler_failed_rule,
            "Serverless::Serverless-EventBusDLQ",
            "its target is the dead-letter queue itself; the ReconcilerFailed alarm reports the failure",
        )
        self.sweep_function, self.sweep_rule = self._sweep()
        if props.encryption_key is not None:  # after every log group is made
            allow_on_key(
                self,
                props.encryption_key,
                logs_statement(self._log_group_names),
                "CloudWatch Logs, for the pipeline's encrypted log groups",
            )

    def _data_machine(
        self,
        prefix: str,
        resources: Resources,
        overrides: Mapping[str, Any],
        machine_type: sfn.StateMachineType,
        timeout: Duration,
    ) -> sfn.StateMachine:
        """A data-path machine: `state_machine_props` over its defaults, then what the pipeline sets itself.

        `prefix` starts its construct ids (`<prefix>StateMachine`, `<prefix>Steps`, `<prefix>StateMachineLogs`).
        """
        props = self.props
        level = props.log_level or (
            sfn.LogLevel.ERROR if machine_type == sfn.StateMachineType.EXPRESS else sfn.LogLevel.ALL
        )
        machine = sfn.StateMachine(
            self,
            f"{prefix}StateMachine",
            **{
                "tracing_enabled": True,
                **overrides,
                "definition_body": sfn.DefinitionBody.from_chainable(
                    data_path(Construct(self, f"{prefix}Steps"), resources)
                ),
                "state_machine_type": machine_type,
                "timeout": timeout,
                "logs": sfn.LogOptions(
                    destination=self._log_group(f"{prefix}StateMachineLogs", STATES_LOG_PREFIX),
                    level=level,
                    include_execution_data=props.include_execution_data,
                ),
            },
        )
        if level == sfn.LogLevel.ERROR:  # below it (FATAL, OFF) the finding is the app's to acknowledge
            acknowledge(
                machine,
                "AwsSolutions::AwsSolutions-SF1",
                "this data-path machine logs at ERROR (log_level): every failed task (retried or caught), failed"
                " state and failed, timed-out or aborted execution; the ledger records every step of every file;"
                " give log_level=LogLevel.ALL to log every state",
            )
        return machine

    @property
    def data_machines(self) -> tuple[sfn.StateMachine, ...]:
        """The data path's state machines: the one the rule starts, and its STANDARD twin if any."""
        twin = self.large_file_state_machine
        return (self.state_machine,) if twin is None else (self.state_machine, twin)

    @property
    def restart_machine(self) -> sfn.StateMachine:
        """The machine that runs restarts (reprocessing, backfills, the sweep's): the STANDARD twin if any."""
        return self.large_file_state_machine or self.state_machine

    @property
    def functions(self) -> tuple[lambda_.Function, lambda_.Function]:
        """The validate and transform functions."""
        return (self.validate_function, self.transform_function)

    def _ended_without_success(
        self,
        construct_id: str,
        description: str,
        machines: Sequence[sfn.IStateMachine],
        target: events.IRuleTarget,
    ) -> events.Rule:
        """A rule sending `target` the status-change events of `machines`' executions that did not succeed.

        FAILED too: an execution whose own failure path failed, or that hit a runtime error.
        """
        return events.Rule(
            self,
            construct_id,
            description=description,
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [m.state_machine_arn for m in machines],
                },
            ),
            targets=[target],
        )

    def _sweep(self) -> tuple[lambda_.Function, events.Rule]:
        """The scheduled sweep: settles what the reconciler missed, and redrives both dead-letter queues."""
        props = self.props
        environment = {
            "LEDGER_TABLE": props.ledger.table.table_name,
            "STATUS_INDEX": STATUS_INDEX,
            "UNSETTLED_AFTER_SECONDS": str(int(props.execution_timeout.to_seconds() + SWEEP_GRACE.to_seconds())),
            "RECONCILER_ARN": self.reconciler.state_machine_arn,
            "RECONCILER_QUEUE_URL": self.reconciler_dead_letter_queue.queue_url,
            "STATE_MACHINE_ARN": self.restart_machine.state_machine_arn,
        }
        if props.ingest_dead_letter_queue is not None:
            environment["INGEST_QUEUE_URL"] = props.ingest_dead_letter_queue.queue_url
        if props.routes_large_files:
            # An EXPRESS execution ends within 5 minutes, but a function it invoked runs to its own timeout:
            # its items are settled once no function can still write them, long before the twin's hour.
            # The sweep reads the machine's name from each item's execution ARN (`...:express:<name>:...`,
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
            environment["EXPRESS_MACHINE_NAME"] = self.state_machine.state_machine_name
            environment["UNSETTLED_AFTER_EXPRESS_SECONDS"] = str(
                int(max(_longest(props), _EXPRESS_LIMIT.to_seconds()) + SWEEP_GRACE.to_seconds())
            )
        fn = self._function(
            "Sweep",
            SWEEP_HANDLER,
            256,
            _SWEEP_TIMEOUT,
            description="Settle ledger items no execution settled; redrive the dead-letter queues",
            environment=environment,
            # No reserved concurrency: an account may reserve none below 100 unreserved. Overlapping runs
            # are harmless: a hand-over has one execution name, so it happens once.
            reserved_concurrency=None,
            in_vpc=False,
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{props.ledger.table.table_arn}/index/{STATUS_INDEX}"]
            )
        )
        self._grant_ledger_key(fn)
        self.reconciler.grant_start_execution(fn)
        self.restart_machine.grant_start_execution(fn)
        for queue in (self.reconciler_dead_letter_queue, props.ingest_dead_letter_queue):
            if queue is not None:
                queue.grant_consume_messages(fn)
        rule = events.Rule(
            self,
            "SweepSchedule",
            description="Run the ETL pipeline's sweep",
            schedule=events.Schedule.rate(props.sweep_interval),
            targets=[targets.LambdaFunction(fn, retry_attempts=2)],
        )
        acknowledge(
            fn,
            "Serverless::Serverless-LambdaDLQ",
            "a scheduled sweep: the next run repeats a failed one, and the SweepFailed alarm reports it",
        )
        acknowledge(
            rule,
            "Serverless::Serverless-EventBusDLQ",
            "a schedule: an undelivered run is repeated by the next one; a dead-lettered tick holds nothing to redo",
        )
        return fn, rule

    def _processed_bucket(self) -> s3.Bucket:
        props = self.props
        logs_bucket = props.logs_bucket or s3.Bucket(
            self,
            "AccessLogs",
            **logs_bucket_props(removal_policy=props.removal_policy, auto_delete_objects=props.auto_delete_objects),
        )
        if props.logs_bucket is None:
            acknowledge_bucket(logs_bucket, kms=False, access_logs=True)
        kwargs = data_bucket_props(
            removal_policy=props.removal_policy,
            auto_delete_objects=props.auto_delete_objects,
            encryption_key=props.encryption_key,
            logs_bucket=logs_bucket,
            logs_prefix="processed/",
            glacier_after_days=90,
            noncurrent_expire_days=90,
        )
        kwargs = with_overrides(kwargs, props.processed_bucket_props)
        bucket = s3.Bucket(self, "Processed", **kwargs)
        acknowledge_bucket(bucket, kms=kwargs.get("encryption_key") is not None)
        # Published or abandoned staging copies leave old versions in a versioned bucket: expire those
        # too, and then the delete markers left behind, so staging is never stored for long.
        bucket.add_lifecycle_rule(
            id="expire-staging",
            prefix=props.staging_prefix,
            expiration=Duration.days(1),
            noncurrent_version_expiration=Duration.days(1),
        )
        bucket.add_lifecycle_rule(
            id="expire-staging-delete-markers", prefix=props.staging_prefix, expired_object_delete_marker=True
        )
        return bucket

    def _log_group(self, construct_id: str, name_prefix: str) -> logs.LogGroup:
        """A log group with a name of our own under `name_prefix`, so a key policy can name it.

        Step Functions log groups must be under `/aws/vendedlogs/states/`: any other name adds a
        statement to the account's CloudWatch Logs resource policy, which holds 5,120 characters, and
        a few pipelines in one account would then fail to deploy.
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html
        """
        name = f"{name_prefix}{Names.unique_resource_name(self, max_length=200, separator='-')}-{construct_id}"
        self._log_group_names.append(name)
        group = logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            retention=self.props.log_retention,
            removal_policy=self.props.removal_policy,
            encryption_key=self.props.encryption_key,
        )
        if self.props.encryption_key is None:
            acknowledge(
                group,
                "PCI.DSS.321::PCI.DSS.321-CloudWatchLogGroupEncrypted",
                "CloudWatch Logs encrypts at rest with service keys; set encryption_key= for a customer-managed key",
            )
        return group

    def _function(
        self,
        name: str,
        handler: str,
        memory: int,
        timeout: Duration,
        *,
        description: str | None = None,
        environment: dict[str, str] | None = None,
        reserved_concurrency: int | None = None,
        ephemeral_storage_mb: int | None = None,
        in_vpc: bool = True,
    ) -> lambda_.Function:
        props = self.props
        log_group = self._log_group(f"{name}Logs", LAMBDA_LOG_PREFIX)
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"The {name.lower()} function of the ETL pipeline",
        )
        log_group.grant_write(role)
        acknowledge(role, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", XRAY_AND_LOG_DELIVERY)
        acknowledge_own_policies(role)
        overrides = dict(props.function_props or {}) if environment is None else {}  # not the sweep's
        fn = lambda_.Function(
            self,
            name,
            **{
                "description": description or f"{name} transaction files by the data contract",
                "architecture": lambda_.Architecture.ARM_64,
                "tracing": lambda_.Tracing.ACTIVE,
                "logging_format": lambda_.LoggingFormat.JSON,
                **overrides,
                "runtime": props.runtime,
                "code": lambda_.Code.from_asset(str(self._asset_dir()), exclude=ASSET_EXCLUDES),
                "handler": handler,
                "memory_size": memory,
                "timeout": timeout,
                "log_group": log_group,
                "role": role,
                "reserved_concurrent_executions": reserved_concurrency,
                "ephemeral_storage_size": None
                if ephemeral_storage_mb is None
                else Size.mebibytes(ephemeral_storage_mb),
                "vpc": props.vpc if in_vpc else None,
                "vpc_subnets": props.vpc_subnets if in_vpc else None,
                "security_groups": props.security_groups if in_vpc else None,
                "environment": {
                    **(environment if environment is not None else self._data_environment()),
                    "POWERTOOLS_SERVICE_NAME": self.service_name,
                    "POWERTOOLS_METRICS_NAMESPACE": props.metrics_namespace,
                },
            },
        )
        if environment is None:
            acknowledge(
                fn,
                "Serverless::Serverless-LambdaDLQ",
                "invoked synchronously by Step Functions, whose catch quarantines and records every failure",
            )
        if not in_vpc:
            acknowledge(
                fn,
                "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC",
                "the sweep reads no file data, only ledger keys; outside the VPC it needs no SQS or Step Functions"
                " endpoints",
            )
        elif props.vpc is None:
            acknowledge(
                fn,
                "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC",
                "set vpc= to run the functions in your VPC; by default they reach S3 and DynamoDB over TLS endpoints",
            )
        return fn

    def _asset_dir(self) -> Path:
        """The functions' code folder: the handlers, with the schema file when the data settings name a schema."""
        document = self.props.data.schema_document
        if document is None:
            return handler_asset_dir()
        return asset_with_schema(handler_asset_dir(), SCHEMA_FILE, document)

    def _data_environment(self) -> dict[str, str]:
        """The validate and transform functions' environment: where to read, write and record."""
        props = self.props
        return {
            "LEDGER_TABLE": props.ledger.table.table_name,
            "PROCESSED_BUCKET": self.processed_bucket.bucket_name,
            "OUTPUT_PREFIX": props.output_prefix,
            "STAGING_PREFIX": props.staging_prefix,
            "QUARANTINE_BUCKET": props.quarantine_bucket.bucket_name,
            "QUARANTINE_PREFIX": props.quarantine_prefix,
            "ETL_CONFIG": props.data.to_json(),
        }

    def _grant_functions(self) -> None:
        """Least privilege: each role gets the actions and prefixes its code uses, nothing else."""
        props = self.props
        raw_objects = props.raw_bucket.arn_for_objects(props.input_prefix + "*")
        read_raw = iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[raw_objects])
        # The table only: GetItem and UpdateItem never touch the status index.
        ledger = iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[props.ledger.table.table_arn]
        )
        raw_suffix = self._raw_suffix
        for fn in self.functions:
            fn.add_to_role_policy(read_raw)
            fn.add_to_role_policy(ledger)
            assert fn.role is not None
            acknowledge_wildcard(fn.role, props.raw_bucket.bucket_arn, raw_suffix, OBJECTS_UNDER_PREFIX)
        quarantine_suffix = self._quarantine_suffix
        assert self.validate_function.role is not None and self.transform_function.role is not None
        acknowledge_wildcard(
            self.validate_function.role, props.quarantine_bucket.bucket_arn, quarantine_suffix, OBJECTS_UNDER_PREFIX
        )
        acknowledge_wildcard(
            self.transform_function.role,
            self.processed_bucket.bucket_arn,
            f"/{props.output_prefix}*",
            OBJECTS_UNDER_PREFIX,
        )
        # Quarantine: the copy (a PUT that reads the source; over 8 MB, a multipart copy that cleans up
        # after itself when it fails) and the report beside it.
        self.validate_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[props.quarantine_bucket.arn_for_objects(props.quarantine_prefix + "*")],
            )
        )
        if props.data.control_totals:
            # Looking for a control record that has not arrived: S3 says NoSuchKey only to a caller allowed
            # ListBucket on the bucket, AccessDenied otherwise; no prefix condition can apply to that check
            # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions").
            self.validate_function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[props.raw_bucket.bucket_arn])
            )
        processed = self.processed_bucket
        # The output is written straight to its final key (visible only when whole) and removed by a retract.
        self.transform_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
                resources=[processed.arn_for_objects(props.output_prefix + "*")],
            )
        )
        # Each caller gets only the key actions its calls make: decrypt to read, and generate data keys
        # to write; never Encrypt or ReEncrypt, which no S3 or DynamoDB call here needs.
        for key, callers, actions in (
            (props.raw_bucket.encryption_key, self.functions, KMS_READ),
            (props.quarantine_bucket.encryption_key, (self.validate_function,), KMS_WRITE),
            (processed.encryption_key, (self.transform_function,), KMS_WRITE),
        ):
            if key is not None:
                for fn in callers:
                    key.grant(fn, *actions)
        for fn in self.functions:
            self._grant_ledger_key(fn)

    def _grant_ledger_key(self, grantee: iam.IGrantable) -> None:
        key = self.props.ledger.table.encryption_key
        if key is not None:
            key.grant(grantee, *KMS_LEDGER)
