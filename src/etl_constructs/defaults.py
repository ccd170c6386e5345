"""Secure defaults as pure functions, kept apart from the code that builds resources."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

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


def dead_letter_queue_props() -> dict[str, Any]:
    """An SQS queue for undeliverable events: encrypted, TLS only, kept for the maximum 14 days."""
    return {"encryption": sqs.QueueEncryption.SQS_MANAGED, "enforce_ssl": True, "retention_period": Duration.days(14)}


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
