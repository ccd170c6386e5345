"""The state machines' definitions: the data path, its failure path, and the reconciler.

Data path: (with an input prefix, check the suffix in any case), identify the object version,
record RECEIVED (conditional, so a repeat delivery stops there), validate, transform. A rejected
file ends the execution successfully: the validate function recorded and quarantined it. Any
fault: a quarantine copy (through the validate function), the step's failed status recorded
conditionally, Fail. The reconciler settles items whose execution timed out or was aborted,
which no catch sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from . import statuses

#: Errors of a Lambda task worth retrying: the service's own, throttling, and our TransientError.
LAMBDA_RETRY_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "TransientError",
]
#: Errors of a DynamoDB task worth retrying.
DYNAMODB_RETRY_ERRORS = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.AmazonDynamoDBException",
]
CONDITIONAL_CHECK_FAILED = "DynamoDB.ConditionalCheckFailedException"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for every task.

    Attributes:
        interval: the first wait. Default: 2 seconds.
        backoff_rate: each wait is this many times the one before. Default: 2.
        max_attempts: retries after the first attempt. Default: 5.
        max_delay: no wait is longer. Default: 60 seconds.
    """

    interval: Duration = field(default_factory=lambda: Duration.seconds(2))
    backoff_rate: float = 2.0
    max_attempts: int = 5
    max_delay: Duration = field(default_factory=lambda: Duration.seconds(60))

    def apply(self, task: sfn.TaskStateBase, errors: list[str]) -> None:
        """Add this policy to `task` for `errors`."""
        task.add_retry(
            errors=errors,
            interval=self.interval,
            backoff_rate=self.backoff_rate,
            max_attempts=self.max_attempts,
            max_delay=self.max_delay,
            jitter_strategy=sfn.JitterType.FULL,
        )


def _s(path: str) -> tasks.DynamoAttributeValue:
    return tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(path))


def _lit(value: str) -> tasks.DynamoAttributeValue:
    return tasks.DynamoAttributeValue.from_string(value)


FILE_ID_FORMAT = "s3://{}/{}?versionId={}"
#: Attribute names of the updates that record a failure (`status`, `error` are reserved words).
_FAILURE_NAMES = {
    "#status": "status",
    "#updated": "updated_at",
    "#error": "error",
    "#cause": "cause",
    "#execution": "execution",
}


def _file_key() -> dict[str, tasks.DynamoAttributeValue]:
    return {"file_id": _s("$.file_id")}


@dataclass(frozen=True)
class Resources:
    """What the definitions act on."""

    table: dynamodb.ITable
    validate_fn: lambda_.IFunction
    transform_fn: lambda_.IFunction
    retry: RetryPolicy
    #: Case spellings of the accepted suffixes the first state checks; empty when the rule does.
    suffix_variants: tuple[str, ...] = ()


def _file_fields() -> dict[str, str]:
    """The file reference every function payload carries, taken from the execution's state."""
    return {name: sfn.JsonPath.string_at(f"$.{name}") for name in ("file_id", "bucket", "key", "version", "execution")}


def _quarantine(scope: Construct, name: str, res: Resources) -> tasks.LambdaInvoke:
    """Quarantine the object version after a fault, through the validate function's `quarantine` action.

    Not the S3 SDK integration: its `CopySource` must be URL-encoded, which no intrinsic function can
    do, so keys with `%`, `+`, spaces or non-ASCII would break the copy. The function copies with
    boto3, which encodes, and writes the fault report beside the copy.
    """
    task = tasks.LambdaInvoke(
        scope,
        name,
        lambda_function=res.validate_fn,
        payload=sfn.TaskInput.from_object(
            {
                "action": "quarantine",
                **_file_fields(),
                "status": sfn.JsonPath.string_at("$.settle.status"),
                "failure": sfn.JsonPath.object_at("$.failure"),
            }
        ),
        retry_on_service_exceptions=False,  # replaced by the explicit policy below
        result_selector={
            "bucket.$": "$.Payload.quarantine_bucket",
            "key.$": "$.Payload.quarantine_key",
        },
        result_path="$.quarantined",
    )
    res.retry.apply(task, LAMBDA_RETRY_ERRORS)
    return task


def _identify(scope: Construct, name: str, base: str) -> sfn.Pass:
    return sfn.Pass(
        scope,
        name,
        parameters={
            "bucket.$": f"{base}.bucket",
            "key.$": f"{base}.key",
            "version.$": f"{base}.version",
            "execution.$": "$$.Execution.Id" if base == "$" else "$.execution",
            "file_id.$": f"States.Format('{FILE_ID_FORMAT}', {base}.bucket, {base}.key, {base}.version)",
        },
    )


def data_path(scope: Construct, res: Resources) -> sfn.IChainable:
    """The main workflow's definition."""
    identify = _identify(scope, "Identify object version", "$")
    received = tasks.DynamoPutItem(
        scope,
        "Record RECEIVED",
        table=res.table,
        item={
            "file_id": _s("$.file_id"),
            "status": _lit(statuses.RECEIVED),
            "bucket": _s("$.bucket"),
            "key": _s("$.key"),
            "version": _s("$.version"),
            "execution": _s("$.execution"),
            "received_at": _s("$$.State.EnteredTime"),
            "updated_at": _s("$$.State.EnteredTime"),
        },
        condition_expression="attribute_not_exists(file_id)",
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry.apply(received, DYNAMODB_RETRY_ERRORS)
    repeat = tasks.DynamoUpdateItem(
        scope,
        "Record repeat delivery",
        table=res.table,
        key=_file_key(),
        update_expression="ADD repeat_deliveries :one SET last_repeat_at = :now, last_repeat_execution = :exec",
        expression_attribute_values={
            ":one": tasks.DynamoAttributeValue.from_number(1),
            ":now": _s("$$.State.EnteredTime"),
            ":exec": _s("$.execution"),
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry.apply(repeat, DYNAMODB_RETRY_ERRORS)
    already = sfn.Succeed(scope, "Already processed", comment="A repeat delivery of a known object version")
    # Counting repeats is best effort: the item's status belongs to the execution that owns it.
    repeat.add_catch(already, errors=["States.ALL"], result_path="$.repeat_error")
    received.add_catch(repeat.next(already), errors=[CONDITIONAL_CHECK_FAILED], result_path="$.repeat")
    received.add_catch(
        sfn.Fail(scope, "Ledger unavailable", error="LedgerUnavailable", cause="RECEIVED could not be recorded"),
        errors=["States.ALL"],
        result_path="$.failure",
    )

    failed = sfn.Fail(
        scope, "Processing failed", error="ProcessingFailed", cause="See the ledger item's error and cause"
    )

    def record_failure(name: str, quarantined: bool) -> tasks.DynamoUpdateItem:
        sets = "SET #status = :failed, #updated = :now, failed_at = :now, #error = :error, #cause = :cause"
        values = {
            ":failed": _s("$.settle.status"),
            ":now": _s("$$.State.EnteredTime"),
            ":error": _s("$.failure.Error"),
            ":cause": _s("$.failure.Cause"),
            ":exec": _s("$.execution"),
            **{f":s{i}": _lit(s) for i, s in enumerate(statuses.IN_PROGRESS)},
        }
        if quarantined:
            sets += ", quarantine_bucket = :qbucket, quarantine_key = :qkey"
            values[":qbucket"] = _s("$.quarantined.bucket")
            values[":qkey"] = _s("$.quarantined.key")
        task = tasks.DynamoUpdateItem(
            scope,
            name,
            table=res.table,
            key=_file_key(),
            update_expression=sets,
            condition_expression="#status IN (:s0, :s1, :s2, :s3) AND #execution = :exec",
            expression_attribute_names=_FAILURE_NAMES,
            expression_attribute_values=values,
            result_path=sfn.JsonPath.DISCARD,
        )
        res.retry.apply(task, DYNAMODB_RETRY_ERRORS)
        task.add_catch(failed, errors=["States.ALL"], result_path="$.settle_error")
        return task

    quarantine = _quarantine(scope, "Quarantine copy", res)
    # A failed quarantine still records the failure, without pointing at a copy that does not exist.
    quarantine.add_catch(
        record_failure("Record failure (not quarantined)", quarantined=False).next(failed),
        errors=["States.ALL"],
        result_path="$.quarantine_error",
    )
    fault_path = quarantine.next(record_failure("Record failure", quarantined=True)).next(failed)

    def mark(name: str, status: str) -> sfn.Pass:
        return sfn.Pass(scope, name, result=sfn.Result.from_object({"status": status}), result_path="$.settle")

    validation_fault = mark("Validation fault", statuses.VALIDATION_FAILED).next(fault_path)
    transform_fault = mark("Transformation fault", statuses.TRANSFORMATION_FAILED).next(fault_path)

    payload = sfn.TaskInput.from_object(_file_fields())

    def invoke(name: str, fn: lambda_.IFunction, result_path: str, on_fault: sfn.IChainable) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            scope,
            name,
            lambda_function=fn,
            payload=payload,
            retry_on_service_exceptions=False,  # replaced by the explicit policy below
            result_selector={"outcome.$": "$.Payload"},
            result_path=result_path,
        )
        res.retry.apply(task, LAMBDA_RETRY_ERRORS)
        task.add_catch(on_fault, errors=["States.ALL"], result_path="$.failure")
        return task

    validate = invoke("Validate", res.validate_fn, "$.validation", validation_fault)
    transform = invoke("Transform", res.transform_fn, "$.transform", transform_fault)
    # A rejected file is a normal outcome, recorded and quarantined by the validate function and
    # counted by the files-rejected alarm; the execution fails only on faults.
    rejected = sfn.Succeed(scope, "Rejected", comment="The file broke the data contract: see its quarantine report")
    valid = (
        sfn.Choice(scope, "Valid?")
        .when(
            sfn.Condition.string_equals("$.validation.outcome.status", statuses.VALIDATED),
            transform.next(sfn.Succeed(scope, "Completed")),
        )
        .otherwise(rejected)
    )
    body = identify.next(received).next(validate).next(valid)
    if not res.suffix_variants:
        return body
    accepted = sfn.Condition.or_(*(sfn.Condition.string_matches("$.key", "*" + v) for v in res.suffix_variants))
    return (
        sfn.Choice(scope, "Accepted suffix?", comment="The rule matched the prefix; the suffix matches in any case")
        .when(accepted, body)
        .otherwise(sfn.Succeed(scope, "Not accepted", comment="No accepted suffix: nothing is recorded"))
    )


def reconciler(scope: Construct, res: Resources) -> sfn.IChainable:
    """Settle the ledger item of an execution that timed out or was aborted, from its status-change event."""
    read = sfn.Pass(
        scope,
        "Read execution event",
        parameters={
            "input.$": "States.StringToJson($.detail.input)",
            "execution.$": "$.detail.executionArn",
            "ended.$": "$.detail.status",
        },
    )
    identify = sfn.Pass(
        scope,
        "Identify settled version",
        parameters={
            "bucket.$": "$.input.bucket",
            "key.$": "$.input.key",
            "version.$": "$.input.version",
            "execution.$": "$.execution",
            "file_id.$": f"States.Format('{FILE_ID_FORMAT}', $.input.bucket, $.input.key, $.input.version)",
            "failure": {
                "Error.$": "States.Format('Execution{}', $.ended)",
                "Cause.$": "States.Format('the execution ended {} before a final status', $.ended)",
            },
        },
    )

    def settle(name: str, status: str, allowed: tuple[str, ...]) -> tasks.DynamoUpdateItem:
        task = tasks.DynamoUpdateItem(
            scope,
            name,
            table=res.table,
            key=_file_key(),
            update_expression=(
                "SET #status = :failed, #updated = :now, failed_at = :now, #error = :error, #cause = :cause"
            ),
            condition_expression="#status IN (:a0, :a1) AND #execution = :exec",
            expression_attribute_names=_FAILURE_NAMES,
            expression_attribute_values={
                ":failed": _lit(status),
                ":now": _s("$$.State.EnteredTime"),
                ":error": _s("$.failure.Error"),
                ":cause": _s("$.failure.Cause"),
                ":exec": _s("$.execution"),
                ":a0": _lit(allowed[0]),
                ":a1": _lit(allowed[1]),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        res.retry.apply(task, DYNAMODB_RETRY_ERRORS)
        return task

    settled = sfn.Succeed(scope, "Settled")
    final_already = sfn.Succeed(scope, "Already final")
    quarantine = _quarantine(scope, "Quarantine unsettled copy", res)
    quarantine.add_catch(settled, errors=["States.ALL"], result_path="$.quarantine_error")
    quarantine.next(settled)
    as_validation = settle(
        "Settle as VALIDATION_FAILED", statuses.VALIDATION_FAILED, (statuses.RECEIVED, statuses.VALIDATING)
    )
    as_transform = settle(
        "Settle as TRANSFORMATION_FAILED",
        statuses.TRANSFORMATION_FAILED,
        (statuses.VALIDATED, statuses.TRANSFORMING),
    )
    as_validation.add_catch(as_transform, errors=[CONDITIONAL_CHECK_FAILED], result_path="$.not_validation")
    as_transform.add_catch(final_already, errors=[CONDITIONAL_CHECK_FAILED], result_path="$.not_transform")
    for task, status in ((as_validation, statuses.VALIDATION_FAILED), (as_transform, statuses.TRANSFORMATION_FAILED)):
        task.next(
            sfn.Pass(
                scope,
                f"Settled as {status}",
                result=sfn.Result.from_object({"status": status}),
                result_path="$.settle",
            )
        ).next(quarantine)
    return read.next(identify).next(as_validation)
