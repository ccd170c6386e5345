"""RawLanding: where files arrive, the rule that notices them, and where rejected files are kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .checks import refuse_self_feeding
from .data_settings import SUPPORTED_SUFFIXES, DataSettings
from .defaults import (
    check_bucket_props,
    check_dead_letter_queue_props,
    data_bucket_props,
    dead_letter_queue_props,
    enable_event_bridge,
    logs_bucket_props,
    use_log_delivery_policy,
    with_overrides,
)
from .errors import ConfigurationError, props_of, refuse_snapshot
from .nag import acknowledge_bucket, acknowledge_dead_letter_queue
from .patterns import object_created_detail


@dataclass(frozen=True)
class RawLandingProps:
    """Props of RawLanding; every field has a secure default.

    Attributes:
        existing_bucket: your own raw bucket. It must be versioned: a bucket of this app that is not
            is refused; one without EventBridge notifications gets them through its own
            CloudFormation property; an imported bucket gets a warning stating both requirements.
            Default: a new bucket with the defaults below.
        bucket_props: `s3.Bucket` keyword arguments laid over the defaults; not with existing_bucket.
            Default: none.
        input_prefix: only keys under this prefix start a workflow. Default: "" (the whole bucket).
        suffixes: key suffixes that start a workflow, case-insensitive. Default: .csv .json .jsonl .ndjson.
        encryption_key: a KMS key for the buckets (with S3 bucket keys). Default: S3-managed keys.
        logs_bucket: bucket for server access logs. Default: a new logs bucket.
        existing_quarantine_bucket: your own bucket for rejected files. Default: a new bucket.
        quarantine_prefix: key prefix of quarantined copies and reports. Default: "quarantine/".
        glacier_after_days: days before objects move to Glacier; None keeps them in Standard. Default: 90.
        noncurrent_version_expiration_days: days a replaced object version is kept. Default: 90.
        removal_policy: what happens to the buckets when the stack goes. Default: RETAIN.
        auto_delete_objects: empty the buckets on deletion (only with DESTROY). Default: False.
        event_retry_attempts: EventBridge delivery attempts before the dead-letter queue. Default: 10.
        event_max_age: how long EventBridge keeps trying a delivery. Default: 24 hours.
        dead_letter_queue_props: `sqs.Queue` keyword arguments over the event dead-letter queue's defaults
            (for example `queue_name`, `retention_period` of a day or more). Its encryption (SQS-managed),
            TLS-only policy and standard type are refused. Default: none (kept 14 days).
        archive_retention: keep an EventBridge archive of the raw bucket's matched events this long, so a
            time window can be replayed (README: "Replay a time window"); replayed events of versions
            already final change nothing. `Duration.days(0)` keeps them indefinitely. Default: none (no
            archive).
    """

    existing_bucket: s3.IBucket | None = None
    bucket_props: Mapping[str, Any] | None = None
    input_prefix: str = ""
    suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES
    encryption_key: kms.IKey | None = None
    logs_bucket: s3.IBucket | None = None
    existing_quarantine_bucket: s3.IBucket | None = None
    quarantine_prefix: str = "quarantine/"
    glacier_after_days: int | None = 90
    noncurrent_version_expiration_days: int = 90
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    auto_delete_objects: bool = False
    event_retry_attempts: int = 10
    event_max_age: Duration = field(default_factory=lambda: Duration.hours(24))
    dead_letter_queue_props: Mapping[str, Any] | None = None
    archive_retention: Duration | None = None

    def __post_init__(self) -> None:
        if self.existing_bucket is not None and self.bucket_props:
            raise ConfigurationError("RawLanding: give existing_bucket or bucket_props, not both")
        if self.bucket_props and self.bucket_props.get("versioned") is False:
            raise ConfigurationError(
                "RawLanding: the raw bucket must be versioned (the ledger keys each object version): "
                "remove versioned=False from bucket_props"
            )
        check_bucket_props("bucket_props", self.bucket_props)
        DataSettings(suffixes=self.suffixes)  # the same suffix rules as the data settings
        if self.input_prefix.startswith("/"):
            raise ConfigurationError(f"input_prefix must not start with '/': {self.input_prefix!r}")
        if self.quarantine_prefix and not self.quarantine_prefix.endswith("/"):
            raise ConfigurationError(f"quarantine_prefix must end with '/': {self.quarantine_prefix!r}")
        if self.glacier_after_days is not None and self.glacier_after_days < 1:
            raise ConfigurationError("glacier_after_days must be 1 or more, or None")
        if self.noncurrent_version_expiration_days < 1:
            raise ConfigurationError("noncurrent_version_expiration_days must be 1 or more")
        if not 0 <= self.event_retry_attempts <= 185:
            raise ConfigurationError("event_retry_attempts must be between 0 and 185")
        if not 60 <= self.event_max_age.to_seconds() <= 86400:
            raise ConfigurationError("event_max_age must be between 1 minute and 24 hours (EventBridge's limits)")
        if self.auto_delete_objects and self.removal_policy != RemovalPolicy.DESTROY:
            raise ConfigurationError("auto_delete_objects needs removal_policy=RemovalPolicy.DESTROY")
        check_dead_letter_queue_props("dead_letter_queue_props", self.dead_letter_queue_props)
        refuse_snapshot("RawLanding", self.removal_policy, "S3 buckets")
        if self.archive_retention is not None and self.archive_retention.to_seconds() % 86400:
            raise ConfigurationError("archive_retention is kept in whole days: give Duration.days(n)")


#: The warning id for an imported raw bucket, for `Annotations.acknowledge_warning`.
IMPORTED_BUCKET_WARNING = "etl-constructs:imported-raw-bucket"


#: The warning id of an input prefix that is not a folder (acknowledge it if a key prefix is meant).
INPUT_PREFIX_WARNING = "etl-constructs:input-prefix-not-a-folder"


class RawLanding(Construct):
    """The raw bucket, the rule that matches new objects, its dead-letter queue and the quarantine bucket.

    Alone, it gives a secure landing zone whose rule has no target yet: `connect(state_machine)`
    adds one, with a retry policy and the dead-letter queue.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: RawLandingProps | None = None, **kwargs: Any
    ) -> None:
        props = props_of("RawLanding", RawLandingProps, props, kwargs)
        super().__init__(scope, construct_id)
        use_log_delivery_policy(self)
        self.props = props = props or RawLandingProps()
        self.input_prefix = props.input_prefix
        if props.input_prefix and not props.input_prefix.endswith("/"):
            Annotations.of(self).add_warning_v2(
                INPUT_PREFIX_WARNING,
                f"input_prefix {props.input_prefix!r} is not a folder: it also matches"
                f" '{props.input_prefix}-old/x.csv' and '{props.input_prefix}x.csv'. End it with '/' to take"
                f" only '{props.input_prefix}/...', or acknowledge this warning if a key prefix is meant.",
            )
        self.suffixes = tuple(s.lower() for s in props.suffixes)
        self.quarantine_prefix = props.quarantine_prefix
        owned_buckets = props.existing_bucket is None or props.existing_quarantine_bucket is None
        self.logs_bucket: s3.IBucket | None = props.logs_bucket
        if self.logs_bucket is None and owned_buckets:
            self.logs_bucket = s3.Bucket(
                self,
                "AccessLogs",
                **logs_bucket_props(removal_policy=props.removal_policy, auto_delete_objects=props.auto_delete_objects),
            )
            acknowledge_bucket(self.logs_bucket, kms=False, access_logs=True)
        self.bucket: s3.IBucket
        if props.existing_bucket is None:
            raw = self._data_bucket("Raw", "raw/", props.bucket_props)
            enable_event_bridge(raw.node.default_child)
            self.bucket = raw
        else:
            self.bucket = props.existing_bucket
            self._check_existing_bucket(props.existing_bucket)
        self.quarantine_bucket: s3.IBucket = props.existing_quarantine_bucket or self._data_bucket(
            "Quarantine", "quarantine/", None
        )
        refuse_self_feeding(
            self,
            self.bucket,
            props.input_prefix,
            (("quarantine_prefix", self.quarantine_bucket, props.quarantine_prefix),),
        )
        dead_letters = dead_letter_queue_props(props.dead_letter_queue_props)
        self.dead_letter_queue = sqs.Queue(self, "EventDeadLetters", **dead_letters)
        acknowledge_dead_letter_queue(self.dead_letter_queue)
        pattern = events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail=object_created_detail(self.bucket.bucket_name, props.input_prefix, self.suffixes),
        )
        self.rule = events.Rule(
            self,
            "ObjectCreated",
            description="New objects under the input prefix with an accepted suffix",
            event_pattern=pattern,
        )
        #: The archive of matched events, when `archive_retention` is set.
        self.archive: events.Archive | None = None
        if props.archive_retention is not None:
            # S3 sends its events to the account's default bus; the archive keeps the ones the rule matches.
            # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html
            self.archive = events.Archive(
                self,
                "EventArchive",
                source_event_bus=events.EventBus.from_event_bus_name(self, "DefaultBus", "default"),
                event_pattern=pattern,
                retention=props.archive_retention,
                description="Object Created events of the raw bucket, for replays",
            )

    def _check_existing_bucket(self, bucket: s3.IBucket) -> None:
        """A bucket of this app must be versioned and gets EventBridge; an imported one is warned about."""
        cfn = bucket.node.default_child
        if not isinstance(cfn, s3.CfnBucket):
            Annotations.of(self).add_warning_v2(
                IMPORTED_BUCKET_WARNING,
                f"The raw bucket {bucket.node.path} is imported, so it cannot be checked: it must be versioned "
                "(the ledger keys each object version) and send its events to EventBridge "
                "(NotificationConfiguration.EventBridgeConfiguration), or no file ever starts the pipeline.",
            )
            return
        versioning = Stack.of(self).resolve(cfn.versioning_configuration) or {}
        if str(versioning.get("status", versioning.get("Status", ""))) != "Enabled":
            raise ConfigurationError(
                f"RawLanding: the raw bucket {bucket.node.path} is not versioned; create it with versioned=True "
                "(the ledger keys each object version, and a file must not change while it is processed)"
            )
        # The bucket's own property, not the custom resource `event_bridge_enabled=True` adds; both may
        # stand together, they set the same configuration.
        enable_event_bridge(cfn)

    def _data_bucket(self, construct_id: str, logs_prefix: str, overrides: Mapping[str, Any] | None) -> s3.Bucket:
        props = self.props
        kwargs = data_bucket_props(
            removal_policy=props.removal_policy,
            auto_delete_objects=props.auto_delete_objects,
            encryption_key=props.encryption_key,
            logs_bucket=self.logs_bucket,
            logs_prefix=logs_prefix,
            glacier_after_days=props.glacier_after_days,
            noncurrent_expire_days=props.noncurrent_version_expiration_days,
        )
        kwargs = with_overrides(kwargs, overrides)
        bucket = s3.Bucket(self, construct_id, **kwargs)
        acknowledge_bucket(bucket, kms=kwargs.get("encryption_key") is not None)
        return bucket

    def connect(self, state_machine: sfn.IStateMachine) -> None:
        """Start `state_machine` for each matched object, with retries and the dead-letter queue.

        The execution input is `{"bucket", "key", "version", "size"}` taken from the event (the size, in
        bytes, routes a large file to a STANDARD twin).
        """
        self.rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                input=events.RuleTargetInput.from_object(
                    {
                        "bucket": events.EventField.from_path("$.detail.bucket.name"),
                        "key": events.EventField.from_path("$.detail.object.key"),
                        "version": events.EventField.from_path("$.detail.object.version-id"),
                        "size": events.EventField.from_path("$.detail.object.size"),
                    }
                ),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self.props.event_retry_attempts,
                max_event_age=self.props.event_max_age,
            )
        )
