"""Secure defaults as pure functions, kept apart from the code that builds resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .errors import ConfigurationError, check_overrides

#: With it, access-log delivery is granted by bucket policy, not the ACL that bucket-owner-enforced forbids.
LOG_DELIVERY_POLICY_FLAG = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


def use_log_delivery_policy(scope: Construct) -> None:
    """Turn the log-delivery bucket policy on for `scope` (a construct with no children yet)."""
    scope.node.set_context(LOG_DELIVERY_POLICY_FLAG, True)


def data_bucket_props(
    *,
    removal_policy: RemovalPolicy,
    auto_delete_objects: bool,
    encryption_key: kms.IKey | None,
    logs_bucket: s3.IBucket | None,
    logs_prefix: str,
    glacier_after_days: int | None,
    noncurrent_expire_days: int,
) -> dict[str, Any]:
    """Bucket props for data: versioned, private, TLS only, encrypted, access-logged, with lifecycle."""
    transitions = (
        [s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(glacier_after_days))]
        if glacier_after_days
        else None
    )
    encryption: dict[str, Any] = (
        {"encryption": s3.BucketEncryption.KMS, "encryption_key": encryption_key, "bucket_key_enabled": True}
        if encryption_key is not None
        else {"encryption": s3.BucketEncryption.S3_MANAGED}
    )
    return {
        "versioned": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "enforce_ssl": True,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "server_access_logs_bucket": logs_bucket,
        "server_access_logs_prefix": logs_prefix,
        "removal_policy": removal_policy,
        "auto_delete_objects": auto_delete_objects,
        "lifecycle_rules": [
            s3.LifecycleRule(
                id="tiering-and-cleanup",
                transitions=transitions,
                noncurrent_version_expiration=Duration.days(noncurrent_expire_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        **encryption,
    }


#: Bucket settings with a field of their own (named), or that the pipeline's guarantees rest on (None:
#: versioning keys each object version, TLS only, no public access, bucket-owner objects).
#: `lifecycle_rules` are added to the pipeline's own, not put in their place.
BUCKET_OWNED: dict[str, str | None] = {
    "removal_policy": "removal_policy",
    "auto_delete_objects": "auto_delete_objects",
    "encryption": "encryption_key",
    "encryption_key": "encryption_key",
    "bucket_key_enabled": "encryption_key",
    "server_access_logs_bucket": "existing_logs_bucket (RawLandingProps.logs_bucket)",
    "versioned": None,
    "enforce_ssl": None,
    "block_public_access": None,
    "public_read_access": None,
    "object_ownership": None,
}


def check_bucket_props(name: str, given: Mapping[str, Any] | None) -> None:
    """Refuse `s3.Bucket` overrides that have a field of their own or that the pipeline needs (ConfigurationError)."""
    check_overrides(name, given, s3.Bucket, BUCKET_OWNED)


def with_overrides(defaults: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Bucket keyword arguments: `defaults` with `overrides` laid over, their lifecycle rules added to ours."""
    merged = {**defaults, **(overrides or {})}
    if overrides and "lifecycle_rules" in overrides:
        merged["lifecycle_rules"] = [*defaults.get("lifecycle_rules", []), *overrides["lifecycle_rules"]]
    return merged


#: Queue settings a dead-letter queue keeps whatever `dead_letter_queue_props` says: SQS-managed
#: encryption (EventBridge and the sweep use it with no key policy), TLS only, and a standard queue
#: (an EventBridge target's dead-letter queue cannot be FIFO:
#: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
DEAD_LETTER_QUEUE_OWNED: dict[str, str | None] = dict.fromkeys(
    (
        "encryption",
        "encryption_master_key",
        "data_key_reuse",
        "enforce_ssl",
        "fifo",
        "content_based_deduplication",
        "deduplication_scope",
        "fifo_throughput_limit",
    )
)
_MIN_DEAD_LETTER_RETENTION = Duration.days(1)


def check_dead_letter_queue_props(name: str, given: Mapping[str, Any] | None) -> None:
    """Refuse `sqs.Queue` overrides a dead-letter queue of the pipeline cannot take (ConfigurationError)."""
    check_overrides(name, given, sqs.Queue, DEAD_LETTER_QUEUE_OWNED)
    retention = (given or {}).get("retention_period")
    if retention is not None and retention.to_seconds() < _MIN_DEAD_LETTER_RETENTION.to_seconds():
        raise ConfigurationError(
            f"{name}['retention_period'] must be a day at least: the sweep redrives these messages and an"
            " operator reads what it leaves"
        )


def dead_letter_queue_props(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An SQS queue for undeliverable events: encrypted, TLS only, kept for the maximum 14 days;
    `overrides` (checked by `check_dead_letter_queue_props`) laid over it."""
    return {
        "retention_period": Duration.days(14),
        **(overrides or {}),
        "encryption": sqs.QueueEncryption.SQS_MANAGED,
        "enforce_ssl": True,
    }


def logs_bucket_props(*, removal_policy: RemovalPolicy, auto_delete_objects: bool) -> dict[str, Any]:
    """Bucket props for server access logs: S3-managed keys (the only kind log delivery accepts)."""
    return {
        "versioned": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "enforce_ssl": True,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "removal_policy": removal_policy,
        "auto_delete_objects": auto_delete_objects,
        "lifecycle_rules": [
            s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(365),
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
    }


def enable_event_bridge(cfn: Any) -> None:
    """Send a bucket's events to EventBridge through its own CloudFormation property (`cfn`: its CfnBucket).

    `event_bridge_enabled=True` would add a custom-resource Lambda to do what the
    `NotificationConfiguration` property does by itself.
    """
    assert isinstance(cfn, s3.CfnBucket)
    cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
