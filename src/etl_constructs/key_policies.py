"""Key-policy and resource-policy statements that let AWS services use the pipeline's keys and topic.

AWS refuses what moto accepts here: a service principal may use a customer-managed KMS key only
when the key policy says so, and CloudWatch can publish to a topic only when the topic policy
and the topic's key allow it. Each statement is scoped to this account (and the source ARNs or
log groups where the service names them), never to the service as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

#: Warning ids users can acknowledge with `Annotations.of(scope).acknowledge_warning(...)`.
IMPORTED_KEY_WARNING = "etl-constructs:imported-key-policy"
IMPORTED_TOPIC_WARNING = "etl-constructs:imported-topic-policy"


def log_group_arn(name: str) -> str:
    """The ARN CloudWatch Logs puts in the encryption context of log group `name` (no `:*`)."""
    return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"


def logs_statement(log_group_names: Sequence[str]) -> iam.PolicyStatement:
    """Let CloudWatch Logs of this region use the key for exactly these log groups.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html: the
    principal is `logs.<region>.amazonaws.com` (`.amazonaws.com.cn` in China, hence the URL
    suffix), and `kms:EncryptionContext:aws:logs:arn` names the log groups.
    """
    return iam.PolicyStatement(
        sid="AllowCloudWatchLogsForPipelineLogGroups",
        principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.{Aws.URL_SUFFIX}")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [log_group_arn(n) for n in log_group_names]}},
    )


def _alarm_source() -> dict[str, dict[str, str]]:
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
    }


def cloudwatch_key_statement() -> iam.PolicyStatement:
    """Let CloudWatch alarms of this account use the key of the topic they publish to.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
    (encrypted topics): CloudWatch needs `kms:Decrypt` and `kms:GenerateDataKey*`; an AWS-managed
    key (`alias/aws/sns`) cannot carry this statement, so alarms on such a topic never notify.
    """
    return iam.PolicyStatement(
        sid="AllowCloudWatchAlarmsOfThisAccount",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        resources=["*"],
        conditions=_alarm_source(),
    )


def cloudwatch_topic_statement(topic: sns.ITopic) -> iam.PolicyStatement:
    """Let CloudWatch alarms of this account publish to `topic`."""
    return iam.PolicyStatement(
        sid="AllowCloudWatchAlarmsOfThisAccount",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["sns:Publish"],
        resources=[topic.topic_arn],
        conditions=_alarm_source(),
    )


def allow_on_key(scope: Construct, key: kms.IKey, statement: iam.PolicyStatement, needed_by: str) -> None:
    """Add `statement` to `key`'s policy, or warn at synth when the key's policy is not ours to change."""
    if key.add_to_resource_policy(statement).statement_added:
        return
    Annotations.of(scope).add_warning_v2(
        IMPORTED_KEY_WARNING,
        f"The KMS key {Stack.of(scope).resolve(key.key_arn)} is imported: its key policy must allow "
        f"{needed_by}: {statement.to_statement_json()}",
    )
