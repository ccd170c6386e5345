"""cdk-nag acknowledgements: one finding at a time, each with its reason beside it in the code.

They are metadata on the constructs (no resources); cdk-nag reads them when a user runs its packs.
Every acknowledgement in the library is listed in the README with its reason.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

#: Reasons shared by several acknowledgements.
XRAY_AND_LOG_DELIVERY = (
    "X-Ray (PutTraceSegments, PutTelemetryRecords) and CloudWatch Logs delivery for Step Functions "
    "support no resource-level permissions: their actions need Resource '*'"
)
OBJECTS_UNDER_PREFIX = "object-level actions scoped to the one prefix this step reads or writes"


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding (`Pack::Rule` or `Pack::Rule[Detail]`) on `construct`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def resource_finding(construct: IConstruct, arn: str, suffix: str = "") -> str | None:
    """How cdk-nag names a resource ARN in an IAM5 finding (`<LogicalId.Arn>/prefix*`), or None."""
    resolved: Any = Stack.of(construct).resolve(arn)
    if isinstance(resolved, str):
        return resolved + suffix
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        logical_id, attribute = resolved["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>{suffix}"
    return None


def acknowledge_wildcard(construct: IConstruct, arn: str, suffix: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for `arn` + `suffix` (such as `/processed/*`) on `construct`."""
    name = resource_finding(construct, arn, suffix)
    if name is not None:
        acknowledge(construct, f"AwsSolutions::AwsSolutions-IAM5[Resource::{name}]", reason)


def acknowledge_bucket(bucket: IConstruct, *, kms: bool, access_logs: bool = False) -> None:
    """The PCI findings a pipeline bucket carries by design, acknowledged with their reasons."""
    acknowledge(
        bucket,
        "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
        "cross-region replication doubles storage cost; add it through the bucket props where recovery needs it",
    )
    if access_logs:
        acknowledge(
            bucket,
            "PCI.DSS.321::PCI.DSS.321-S3DefaultEncryptionKMS",
            "S3 server access log delivery writes only to buckets encrypted with SSE-S3",
        )
        acknowledge(bucket, "AwsSolutions::AwsSolutions-S1", "this is the access-log bucket; logging it would loop")
    elif not kms:
        acknowledge(
            bucket,
            "PCI.DSS.321::PCI.DSS.321-S3DefaultEncryptionKMS",
            "SSE-S3 by default (no KMS request charges); pass encryption_key= for SSE-KMS with bucket keys",
        )


def acknowledge_dead_letter_queue(queue: IConstruct) -> None:
    """A dead-letter queue has no queue of its own to redrive to."""
    reason = "this queue is the dead-letter queue of an EventBridge target; there is nothing to redrive it to"
    acknowledge(queue, "AwsSolutions::AwsSolutions-SQS3", reason)
    acknowledge(queue, "Serverless::Serverless-SQSRedrivePolicy", reason)


def acknowledge_own_policies(role_owner: IConstruct) -> None:
    """CDK writes each role's grants as its own policy: nothing inline is shared between roles."""
    acknowledge(
        role_owner,
        "PCI.DSS.321::PCI.DSS.321-IAMNoInlinePolicy",
        "each role's policy is generated for that role alone from least-privilege grants",
    )
