"""The state machines' definitions: the data path, its failure path, and the reconciler.

Data path: (with an input prefix, check the suffix in any case), identify the object version,
record RECEIVED (conditional, so a repeat delivery stops there), validate, transform. A rejected
file ends the execution successfully: the validate function recorded and quarantined it. Any
fault: a quarantine copy (through the validate function), the step's failed status recorded
conditionally, Fail. The reconciler settles items whose execution timed out or was aborted,
which no catch sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from etl_handlers.core.control import CONTROL_PENDING

from . import statuses

#: Errors of a Lambda task worth retrying: the service's own, and our TransientError.
LAMBDA_RETRY_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "TransientError",
]
#: A function killed at its timeout (an unhandled error: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
#: Retried, at most `TIMEOUT_RETRIES` times: a one-off kill passes; a file too big for the timeout fails soon.
LAMBDA_TIMEOUT_ERRORS = ["Sandbox.Timedout", "Lambda.Unknown"]
TIMEOUT_RETRIES = 2
#: Throttling of a Lambda task: retried on its own, longer budget (a burst must never fail a file).
LAMBDA_THROTTLE_ERRORS = ["Lambda.TooManyRequestsException"]
#: A task state that stopped waiting at its TimeoutSeconds.
STEP_TIMEOUT = "States.Timeout"
#: Errors of a DynamoDB task worth retrying.
DYNAMODB_RETRY_ERRORS = [
    # DynamoDB's own code is InternalServerError; either spelling may reach the state machine.
    "DynamoDB.InternalServerError",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.AmazonDynamoDBException",
]
#: Throttling of a DynamoDB task: the throttling budget too.
DYNAMODB_THROTTLE_ERRORS = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
]
CONDITIONAL_CHECK_FAILED = "DynamoDB.ConditionalCheckFailedException"
#: Errors of an SQS task worth retrying: any (a message sent twice is redriven twice, which the ledger makes harmless).
SQS_RETRY_ERRORS = ["States.TaskFailed"]
#: A hand-over whose execution name the STANDARD machine already holds (closed, or given another input): a repeat
#: delivery, handed over once. The integration names an API error `StepFunctions.<code>Exception`; the bare code
#: is caught too. See the errors of
#: https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
EXECUTION_EXISTS = ["StepFunctions.ExecutionAlreadyExistsException", "StepFunctions.ExecutionAlreadyExists"]
#: Errors of a hand-over worth retrying: any other (a start refused now may be accepted later).
HAND_OVER_RETRY_ERRORS = ["States.TaskFailed"]
#: The `detail.status` of the events the sweep gives the reconciler for items left unsettled.
UNSETTLED = "UNSETTLED"
#: The errors of a data-path execution that could not record RECEIVED (or a new attempt), or hand a large file
#: over; the reconciler records them on the version, with the caught failure as the cause.
LEDGER_UNAVAILABLE = "LedgerUnavailable"
HAND_OVER_FAILED = "HandOverFailed"
#: The failure a catch put at `$.failure` (its Error and, usually, Cause), as a string: the cause of the Fail states
#: reached from such a catch, so the execution's status-change event names what went wrong.
#: https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html (CausePath takes an intrinsic function)
CAUGHT_FAILURE = "States.JsonToString($.failure)"


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

    @classmethod
    def for_throttling(cls, within: Duration | None = None, running: Duration | None = None) -> RetryPolicy:
        """The throttling budget: 5 s, doubling to 60 s at most, 30 retries (about 27 minutes of waits).

        Throttling ends when the burst drains, however long that is; a valid file must not fail for
        it. With `within` (an execution timeout), as many retries as keep the waits under half of it.
        With `running` too (the two functions' timeouts together), under half of what they leave of
        it, less a tenth for the ledger's steps: both function steps may spend their budget in one
        execution, which must still reach its "Defer" state (DEFERRED, resumed by the sweep) before its
        timeout. 20 retries (about 17 minutes) under the default hour with the default functions (5 and
        15 minutes); 2 (15 s) under an EXPRESS machine's 5 minutes with its 2-minute functions.
        """
        policy = cls(interval=Duration.seconds(5), backoff_rate=2.0, max_attempts=30, max_delay=Duration.seconds(60))
        if within is None:
            return policy
        limit = within.to_seconds() / 2
        if running is not None:
            limit = (within.to_seconds() - running.to_seconds()) / 2 * 0.9
        while policy.max_attempts > 1 and policy.total_wait() > limit:
            policy = replace(policy, max_attempts=policy.max_attempts - 1)
        return policy

    def total_wait(self) -> float:
        """The longest this policy waits in all, in seconds (each wait at its cap, before jitter)."""
        wait, total = self.interval.to_seconds(), 0.0
        for _ in range(self.max_attempts):
            total += min(wait, self.max_delay.to_seconds())
            wait *= self.backoff_rate
        return total

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
#: What one attempt leaves on its ledger item: a new attempt moves these into `history`.
ATTEMPT_FIELDS = (
    "status",
    "execution",
    "attempt",
    "received_at",
    "updated_at",
    *(f"{s.lower()}_at" for s in statuses.ALL if s != statuses.RECEIVED),
    "failed_at",
    "error",
    "error_count",
    "quarantine_bucket",
    "quarantine_key",
    "rows_total",
    "rows_valid",
    "rows_rejected",
    "rows_written",
    "output_bucket",
    "output_key",
    "settled_by",
    "schema_hash",
    "control_checks",
    "control_version",
    "deferrals",
    "resumed_at",
)
#: What a new attempt clears, besides what it sets (status, execution, attempt, received_at, updated_at): the
#: last attempt's fields, and its `cause` (up to 32 KB; left out of the history, which must fit in an item).
_CLEARED = (
    *(f for f in ATTEMPT_FIELDS if f not in ("status", "execution", "attempt", "received_at", "updated_at")),
    "cause",
)
#: Attempts a version may have: its history stays far below DynamoDB's 400 KB item limit.
MAX_ATTEMPTS = 100
#: Attribute names of the updates that record a failure (`status`, `error` are reserved words).
_FAILURE_NAMES = {
    "#status": "status",
    "#updated": "updated_at",
    "#error": "error",
    "#cause": "cause",
    "#execution": "execution",
}


def _file_key(file_id: str | None = None) -> dict[str, tasks.DynamoAttributeValue]:
    """The ledger key of the file: `file_id` (a JsonPath value) or, by default, the state's `$.file_id`."""
    return {"file_id": tasks.DynamoAttributeValue.from_string(file_id or sfn.JsonPath.string_at("$.file_id"))}


def _read_item(
    scope: Construct, name: str, res: Resources, fields: Sequence[str], result_path: str
) -> tasks.DynamoGetItem:
    """A consistent read of the file's ledger item, only `fields` (as placeholders: `status` is one of
    DynamoDB's reserved words), into `result_path`, with the ledger's retry policy."""
    task = tasks.DynamoGetItem(
        scope,
        name,
        table=res.table,
        key=_file_key(),
        consistent_read=True,
        projection_expression=[tasks.DynamoProjectionExpression().with_attribute(f"#p{i}") for i in range(len(fields))],
        expression_attribute_names={f"#p{i}": f for i, f in enumerate(fields)},
        result_path=result_path,
    )
    res.retry_dynamodb(task)
    return task


@dataclass(frozen=True)
class Resources:
    """What the definitions act on."""

    table: dynamodb.ITable
    validate_fn: lambda_.IFunction
    transform_fn: lambda_.IFunction
    retry: RetryPolicy
    #: Case spellings of the accepted suffixes the first state checks; empty when the rule does.
    suffix_variants: tuple[str, ...] = ()
    #: The budget for throttling, apart from `retry`.
    throttle_retry: RetryPolicy = field(default_factory=RetryPolicy.for_throttling)
    #: Where an execution that could not record RECEIVED leaves its input for the sweep (the reconciler's queue).
    parking: sqs.IQueue | None = None
    #: With control totals: the seconds a data file waits before it looks again for its control record.
    control_interval: int | None = None
    #: The limit of each function step's wait for its function, when the functions may run longer than
    #: the machine allows (an EXPRESS entry whose functions serve a STANDARD twin too). Default: none.
    step_timeout: Duration | None = None
    #: Files larger than this go to `large_file_machine` first thing. Default: none.
    large_file_bytes: int | None = None
    #: The STANDARD machine large files are handed to.
    large_file_machine: sfn.IStateMachine | None = None

    def retry_lambda(self, task: sfn.TaskStateBase) -> None:
        """Throttling first, on its own budget; then the service's faults and TransientError; then timeouts."""
        self.throttle_retry.apply(task, LAMBDA_THROTTLE_ERRORS)
        self.retry.apply(task, LAMBDA_RETRY_ERRORS)
        replace(self.retry, max_attempts=min(TIMEOUT_RETRIES, self.retry.max_attempts)).apply(
            task, LAMBDA_TIMEOUT_ERRORS
        )

    def retry_dynamodb(self, task: sfn.TaskStateBase) -> None:
        """Throttling first, on its own budget; then the service's faults (a lost reply among them)."""
        self.throttle_retry.apply(task, DYNAMODB_THROTTLE_ERRORS)
        self.retry.apply(task, DYNAMODB_RETRY_ERRORS)


def _version_item(status: str, ref: Mapping[str, str] | None = None) -> dict[str, tasks.DynamoAttributeValue]:
    """A new ledger item for the object version in `status`, received now; the version as `ref` gives it
    (default: the state's own reference, `_file_fields()`)."""
    ref = ref or _file_fields()
    item = {name: tasks.DynamoAttributeValue.from_string(ref[name]) for name in _FILE_FIELDS}
    return {"file_id": item["file_id"], "status": _lit(status), **item, "received_at": _s("$$.State.EnteredTime")}


#: The file reference the states carry, in the order items and payloads list it.
_FILE_FIELDS = ("file_id", "bucket", "key", "version", "execution")


def _file_fields() -> dict[str, str]:
    """The file reference every function payload carries, taken from the execution's state."""
    return {name: sfn.JsonPath.string_at(f"$.{name}") for name in _FILE_FIELDS}


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
    res.retry_lambda(task)
    return task


def _retract(scope: Construct, name: str, res: Resources) -> tasks.LambdaInvoke:
    """Remove an output the ledger does not show committed, through the transform function's `retract` action.

    A transform killed after copying its output to the final key, before recording COMPLETED, left
    an output beside a failure; this removes it. Its result `$.retracted.committed` is true when the
    ledger shows COMPLETED after all (the function died after its commit): the file is done.
    """
    task = tasks.LambdaInvoke(
        scope,
        name,
        lambda_function=res.transform_fn,
        payload=sfn.TaskInput.from_object({"action": "retract", **_file_fields()}),
        retry_on_service_exceptions=False,  # replaced by the explicit policy below
        result_selector={"committed.$": "$.Payload.committed"},
        result_path="$.retracted",
    )
    res.retry_lambda(task)
    return task


def _of_input(base: str) -> dict[str, str]:
    """The file reference the states read (`bucket`, `key`, `version`, `execution`, `file_id`), from `base`."""
    return {
        "bucket": sfn.JsonPath.string_at(f"{base}.bucket"),
        "key": sfn.JsonPath.string_at(f"{base}.key"),
        "version": sfn.JsonPath.string_at(f"{base}.version"),
        "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
        "file_id": sfn.JsonPath.format(
            FILE_ID_FORMAT,
            sfn.JsonPath.string_at(f"{base}.bucket"),
            sfn.JsonPath.string_at(f"{base}.key"),
            sfn.JsonPath.string_at(f"{base}.version"),
        ),
    }


def data_path(scope: Construct, res: Resources) -> sfn.IChainable:
    """The main workflow's definition."""
    # The first state reads the rule's input as it is: `file_id` and the execution are written inline, and its
    # result becomes the reference every later state reads. No Pass state to build it: one transition less
    # a file (a Pass is billed as a transition, like any state). `$$.Execution.Input` is the same input; a
    # ResultSelector is a Payload Template, which may read the Context Object and call intrinsic functions
    # (https://states-language.net/spec.html#payload-template).
    ref = _of_input("$")
    received = tasks.DynamoPutItem(
        scope,
        "Record RECEIVED",
        table=res.table,
        item={
            **_version_item(statuses.RECEIVED, ref),
            "updated_at": _s("$$.State.EnteredTime"),
            "attempt": tasks.DynamoAttributeValue.from_number(1),
        },
        # A retry after a lost reply finds the item this execution wrote: its own write, not a repeat.
        condition_expression="attribute_not_exists(file_id) OR (#execution = :exec AND #status = :received)",
        expression_attribute_names={"#execution": "execution", "#status": "status"},
        expression_attribute_values={
            ":exec": tasks.DynamoAttributeValue.from_string(ref["execution"]),
            ":received": _lit(statuses.RECEIVED),
        },
        result_selector=_of_input("$$.Execution.Input"),
        result_path="$",
    )
    res.retry_dynamodb(received)
    repeat = tasks.DynamoUpdateItem(
        scope,
        "Record repeat delivery",
        table=res.table,
        key=_file_key(ref["file_id"]),
        update_expression="ADD repeat_deliveries :one SET last_repeat_at = :now, last_repeat_execution = :exec",
        # Counted while an execution runs (a duplicate racing it); a delivery of a final version (a replay
        # from the archive, a backfill run twice) changes nothing.
        condition_expression="#status IN (:s0, :s1, :s2, :s3)",
        expression_attribute_names={"#status": "status"},
        expression_attribute_values={
            ":one": tasks.DynamoAttributeValue.from_number(1),
            ":now": _s("$$.State.EnteredTime"),
            ":exec": tasks.DynamoAttributeValue.from_string(ref["execution"]),
            **{f":s{i}": _lit(s) for i, s in enumerate(statuses.IN_PROGRESS)},
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry_dynamodb(repeat)
    already = sfn.Succeed(scope, "Already processed", comment="A repeat delivery of a known object version")
    # Counting repeats is best effort: the item's status belongs to the execution that owns it.
    repeat.add_catch(already, errors=["States.ALL"], result_path="$.repeat_error")
    received.add_catch(repeat.next(already), errors=[CONDITIONAL_CHECK_FAILED], result_path="$.repeat")
    _catch_for_the_sweep(scope, res, received, "Ledger unavailable", "Leave the file for the sweep", LEDGER_UNAVAILABLE)

    # Its cause is the failure caught: the ledger item's error and cause when they were recorded, and what the
    # reconciler records when they could not be.
    failed = sfn.Fail(scope, "Processing failed", error="ProcessingFailed", cause_path=CAUGHT_FAILURE)

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
            # In progress, or already this status (a retry after a lost reply), and this execution's.
            condition_expression="#status IN (:s0, :s1, :s2, :s3, :failed) AND #execution = :exec",
            expression_attribute_names=_FAILURE_NAMES,
            expression_attribute_values=values,
            result_path=sfn.JsonPath.DISCARD,
        )
        res.retry_dynamodb(task)
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

    # Output is visible only when COMPLETED: a fault first removes any output of this attempt, or the earlier
    # output a new attempt of a COMPLETED version would otherwise leave beside its failure.
    retract = _retract(scope, "Retract uncommitted output", res)
    retract.add_catch(fault_path, errors=["States.ALL"], result_path="$.retract_error")
    committed = (
        sfn.Choice(scope, "Committed after all?")
        .when(
            sfn.Condition.boolean_equals("$.retracted.committed", True),
            sfn.Succeed(scope, "Completed after all", comment="The transform died after recording COMPLETED"),
        )
        .otherwise(fault_path)
    )
    retract.next(committed)
    transform_fault = mark("Transformation fault", statuses.TRANSFORMATION_FAILED).next(retract)
    validation_fault = mark("Validation fault", statuses.VALIDATION_FAILED).next(retract)

    payload = sfn.TaskInput.from_object(_file_fields())

    # A step that stopped waiting (EXPRESS) leaves its function running, up to its own longer timeout: a failure
    # path now would race it (its output published after the retract, its quarantine report over the path's).
    # The item stays in progress for the sweep, which settles it after the longest function timeout and its
    # grace, when no function of this execution can still run.
    step_timed_out = (
        sfn.Fail(
            scope,
            "Step timed out",
            error="StepTimedOut",
            cause="The function may still be running; the sweep settles the file once it cannot be",
        )
        if res.step_timeout
        else None
    )

    def invoke(
        name: str, fn: lambda_.IFunction, result_path: str, on_fault: sfn.IChainable, defer: sfn.IChainable
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            scope,
            name,
            lambda_function=fn,
            payload=payload,
            retry_on_service_exceptions=False,  # replaced by the explicit policy below
            result_selector={"outcome.$": "$.Payload"},
            result_path=result_path,
            # Stops waiting at `step_timeout` (EXPRESS); `step_timed_out` leaves the item for the sweep.
            task_timeout=sfn.Timeout.duration(res.step_timeout) if res.step_timeout else None,
        )
        res.retry_lambda(task)
        # Throttled past its budget: no room for the file now, which is no fault of the file's.
        task.add_catch(defer, errors=LAMBDA_THROTTLE_ERRORS, result_path="$.failure")
        if step_timed_out is not None:
            task.add_catch(step_timed_out, errors=[STEP_TIMEOUT], result_path="$.failure")
        task.add_catch(on_fault, errors=["States.ALL"], result_path="$.failure")
        return task

    before_validation = (statuses.RECEIVED, statuses.VALIDATING)
    validate = invoke(
        "Validate",
        res.validate_fn,
        "$.validation",
        validation_fault,
        _defer(scope, res, "validating", before_validation, validation_fault, failed),
    )
    transform = invoke(
        "Transform",
        res.transform_fn,
        "$.transform",
        transform_fault,
        _defer(scope, res, "transforming", (statuses.VALIDATED,), transform_fault, failed),
    )
    # A rejected file is a normal outcome, recorded and quarantined by the validate function and
    # counted by the files-rejected alarm; the execution fails only on faults.
    rejected = sfn.Succeed(scope, "Rejected", comment="The file broke the data contract: see its quarantine report")
    # A new attempt of a COMPLETED version that is now rejected takes its earlier output away: output is
    # visible only while the ledger says COMPLETED.
    withdraw = _retract(scope, "Withdraw the earlier output", res)
    withdraw.add_catch(
        sfn.Fail(
            scope,
            "Earlier output not withdrawn",
            error="OutputNotWithdrawn",
            cause_path="States.JsonToString($.retract_error)",
        ),
        errors=["States.ALL"],
        result_path="$.retract_error",
    )
    after_rejection = (
        sfn.Choice(scope, "A new attempt?")
        .when(sfn.Condition.is_present("$.previous"), withdraw.next(rejected))
        .otherwise(rejected)
    )
    outcome = "$.validation.outcome.status"
    valid = sfn.Choice(scope, "Valid?")
    valid.when(
        sfn.Condition.string_equals(outcome, statuses.VALIDATED), transform.next(sfn.Succeed(scope, "Completed"))
    )
    # A control record (`<data key>.control.json`): checked and recorded, never transformed as data.
    valid.when(sfn.Condition.string_equals(outcome, statuses.COMPLETED), sfn.Succeed(scope, "Control record recorded"))
    if res.control_interval is not None:
        # A data file whose control record has not arrived waits an interval and is validated again; the
        # function counts the looks and rejects the file after the last (a normal outcome: no error raised,
        # so the function's error alarm stays quiet while files wait as they should).
        wait = sfn.Wait(
            scope, "Wait for the control record", time=sfn.WaitTime.duration(Duration.seconds(res.control_interval))
        )
        valid.when(sfn.Condition.string_equals(outcome, CONTROL_PENDING), wait.next(validate))
    valid.otherwise(after_rejection)
    validate.next(valid)
    body: sfn.IChainable = received.next(validate)
    if res.suffix_variants:
        accepted = sfn.Condition.or_(*(sfn.Condition.string_matches("$.key", "*" + v) for v in res.suffix_variants))
        body = (
            sfn.Choice(scope, "Accepted suffix?", comment="The rule matched the prefix; the suffix matches in any case")
            .when(accepted, body)
            .otherwise(sfn.Succeed(scope, "Not accepted", comment="No accepted suffix: nothing is recorded"))
        )
    entry = (
        sfn.Choice(
            scope, "New attempt requested?", comment=f"An input with {statuses.REPROCESS!r} runs a known version again"
        )
        .when(sfn.Condition.is_present(f"$.{statuses.REPROCESS}"), _new_attempt(scope, res, validate))
        .otherwise(body)
    )
    return entry if res.large_file_machine is None else _route_large_files(scope, res, entry)


def _route_large_files(scope: Construct, res: Resources, rest: sfn.IChainable) -> sfn.IChainable:
    """Hand a file larger than `res.large_file_bytes` (the S3 event's object size, in the rule's input) to
    the STANDARD machine, before anything is recorded; run the others here.

    The execution is named after the object version, so a repeat delivery (EXPRESS runs at least once, and
    EventBridge delivers at least once) is handed over once: the STANDARD machine refuses a name it holds
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html). A hand-over that
    still fails after its retries leaves the input for the sweep, as an unrecorded RECEIVED does.
    """
    assert res.large_file_bytes is not None
    hand_over = _start_on_twin(
        scope,
        res,
        "Hand over to STANDARD",
        "large",
        sfn.JsonPath.format(
            "{}/{}/{}",
            sfn.JsonPath.string_at("$.bucket"),
            sfn.JsonPath.string_at("$.key"),
            sfn.JsonPath.string_at("$.version"),
        ),
        sfn.TaskInput.from_json_path_at("$"),
    )
    handed = sfn.Succeed(scope, "Handed over", comment="The STANDARD machine runs the file")
    hand_over.add_catch(handed, errors=EXECUTION_EXISTS, result_path=sfn.JsonPath.DISCARD)
    _catch_for_the_sweep(
        scope, res, hand_over, "Not handed over", "Leave the large file for the sweep", HAND_OVER_FAILED
    )
    large = sfn.Condition.and_(
        sfn.Condition.is_present("$.size"),
        sfn.Condition.is_numeric("$.size"),
        sfn.Condition.number_greater_than("$.size", res.large_file_bytes),
    )
    return (
        sfn.Choice(scope, "Large file?", comment=f"Over {res.large_file_bytes} bytes: the STANDARD machine runs it")
        .when(large, hand_over.next(handed))
        .otherwise(rest)
    )


def _defer(
    scope: Construct, res: Resources, step: str, deferrable: tuple[str, ...], fault: sfn.IChainable, failed: sfn.Fail
) -> sfn.IChainable:
    """Leave a file `step`'s function had no room for as DEFERRED, for the sweep to resume it; or fail it.

    A burst past the functions' concurrency is throttled; the throttling budget (`throttle_retry`) waits
    for room. When it runs out (under an EXPRESS machine's 5 minutes it runs out in a large burst) the
    file is not at fault and must not fail: its item becomes DEFERRED, neither in progress nor final,
    and the execution succeeds. The sweep's next run resumes the same attempt (`reprocess: deferred`;
    a deferral is no attempt of its own), and `deferrals` counts them. Throttling:
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html#throttling-behavior

    Only while no output of this version can be visible: the item in `deferrable` (before validation
    ends, or validated with the transform never started: it marks TRANSFORMING before it writes), and
    not a new attempt of a COMPLETED version (its earlier output stays until this attempt withdraws or
    replaces it). Otherwise `fault`, the step's failure path, which removes any output first. When the
    write's condition fails, the item is read: DEFERRED by this execution already (a retry after a lost
    reply) ends "Deferred"; anything else (a transform that ran before it was throttled, an item no
    longer this execution's) takes `fault`, whose conditional writes change nothing not its own.
    """
    task = tasks.DynamoUpdateItem(
        scope,
        f"Defer {step}",
        table=res.table,
        key=_file_key(),
        update_expression=(
            "SET #status = :deferred, #updated = :now, deferred_at = :now, #error = :error, #cause = :cause"
            " ADD deferrals :one"
        ),
        condition_expression=f"#status IN ({', '.join(f':s{i}' for i in range(len(deferrable)))})"
        " AND #execution = :exec",
        expression_attribute_names=_FAILURE_NAMES,
        expression_attribute_values={
            ":deferred": _lit(statuses.DEFERRED),
            ":now": _s("$$.State.EnteredTime"),
            ":error": _s("$.failure.Error"),
            ":cause": _s("$.failure.Cause"),
            ":exec": _s("$.execution"),
            ":one": tasks.DynamoAttributeValue.from_number(1),
            **{f":s{i}": _lit(s) for i, s in enumerate(deferrable)},
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry_dynamodb(task)
    deferred: sfn.IChainable = sfn.Succeed(
        scope, f"Deferred {step}", comment="The sweep resumes the attempt when there is room"
    )
    if res.large_file_machine is not None:
        deferred = _resume_on_twin(scope, res, step, deferred)
    look = _read_item(scope, f"Deferred {step} already?", res, ("status", "execution"), "$.deferred")
    look.next(
        sfn.Choice(scope, f"Deferred {step} by this execution?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.deferred.Item"),
                sfn.Condition.string_equals("$.deferred.Item.status.S", statuses.DEFERRED),
                sfn.Condition.string_equals_json_path("$.deferred.Item.execution.S", "$.execution"),
            ),
            deferred,
        )
        .otherwise(fault)
    )
    # The ledger out of reach: the item stays in progress, and the reconciler (or the sweep) settles it.
    look.add_catch(failed, errors=["States.ALL"], result_path="$.defer_error")
    task.add_catch(look, errors=[CONDITIONAL_CHECK_FAILED], result_path="$.not_deferred")
    task.add_catch(failed, errors=["States.ALL"], result_path="$.defer_error")
    task.next(deferred)
    return (
        sfn.Choice(scope, f"Earlier output before {step}?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.previous.Item.status.S"),
                sfn.Condition.string_equals("$.previous.Item.status.S", statuses.COMPLETED),
            ),
            fault,
        )
        .otherwise(task)
    )


def _start_on_twin(
    scope: Construct, res: Resources, name: str, prefix: str, once_for: str, task_input: sfn.TaskInput
) -> tasks.StepFunctionsStartExecution:
    """A request-response start of the STANDARD twin, named `<prefix>-<SHA-256 of once_for>` (a JsonPath value)
    so that a repeat starts it once: the twin refuses a name it holds, which is never retried (retriers come
    before catchers, and States.TaskFailed matches it too); other refusals get the retry policy."""
    assert res.large_file_machine is not None
    start = tasks.StepFunctionsStartExecution(
        scope,
        name,
        state_machine=res.large_file_machine,
        integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
        name=sfn.JsonPath.format(f"{prefix}-{{}}", sfn.JsonPath.hash(once_for, "SHA-256")),
        input=task_input,
        result_path=sfn.JsonPath.DISCARD,
    )
    start.add_retry(errors=EXECUTION_EXISTS, max_attempts=0)
    res.retry.apply(start, HAND_OVER_RETRY_ERRORS)
    return start


def _resume_on_twin(scope: Construct, res: Resources, step: str, then: sfn.IChainable) -> sfn.IChainable:
    """Start the STANDARD twin's resume of a file this EXPRESS execution just deferred, then `then`.

    The twin's throttling budget is the longer one (minutes, not seconds): a burst that outran EXPRESS's
    waits on there at once, rather than until the sweep's next run. The name is this execution's and the
    step's, so a retry after a lost reply starts it once; a start that fails leaves the file DEFERRED for
    the sweep, as before. The resume takes the item over only while it is DEFERRED by this execution (the
    ledger's condition), so a sweep resuming it too begins one attempt between them.
    """
    start = _start_on_twin(
        scope,
        res,
        f"Resume {step} on STANDARD",
        "resume",
        sfn.JsonPath.format("{}/{}", sfn.JsonPath.string_at("$$.Execution.Id"), step),
        sfn.TaskInput.from_object(
            {
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "key": sfn.JsonPath.string_at("$.key"),
                "version": sfn.JsonPath.string_at("$.version"),
                statuses.REPROCESS: statuses.REPROCESS_DEFERRED,
            }
        ),
    )
    start.add_catch(then, errors=["States.ALL"], result_path="$.resume_error")
    return start.next(then)


def _new_attempt(scope: Construct, res: Resources, validate: sfn.IChainable) -> sfn.IChainable:
    """Begin a new attempt of a version the ledger knows, then validate it as a first attempt would be.

    The input is `{"bucket", "key", "version", "reprocess": "failed" | "any" | "deferred"}`: "failed" runs a
    VALIDATION_FAILED or TRANSFORMATION_FAILED version again, "any" a COMPLETED one too, "deferred" only a
    DEFERRED one (the sweep's request: a version that failed meanwhile is not run again unasked). The item's
    last attempt moves into its `history` list and the attempt counter goes up, in one write conditional
    on the execution that owned the last attempt: of two requests for the same version, one begins an
    attempt and the other ends "Not begun". A version in progress is never taken over.
    """
    read = _read_item(scope, "Read the last attempt", res, ATTEMPT_FIELDS, "$.previous")
    begin = tasks.DynamoUpdateItem(
        scope,
        "Begin a new attempt",
        table=res.table,
        key=_file_key(),
        update_expression=(
            "SET #status = :received, #execution = :exec, #updated = :now, received_at = :now,"
            " attempt = if_not_exists(attempt, :one) + :one,"
            " history = list_append(if_not_exists(history, :none), :last)"
            " REMOVE " + ", ".join(f"#r{i}" for i in range(len(_CLEARED)))
        ),
        condition_expression=(
            "#execution = :last_exec AND #status IN (:vf, :tf, :also)"
            " AND (attribute_not_exists(history) OR size(history) < :most)"
        ),
        expression_attribute_names={
            "#status": "status",
            "#execution": "execution",
            "#updated": "updated_at",
            **{f"#r{i}": name for i, name in enumerate(_CLEARED)},
        },
        expression_attribute_values={
            ":received": _lit(statuses.RECEIVED),
            ":exec": _s("$.execution"),
            ":now": _s("$$.State.EnteredTime"),
            ":one": tasks.DynamoAttributeValue.from_number(1),
            ":none": tasks.DynamoAttributeValue.from_list([]),
            ":last": tasks.DynamoAttributeValue.from_list(
                [tasks.DynamoAttributeValue.map_from_json_path("$.previous.Item")]
            ),
            ":last_exec": _s("$.previous.Item.execution.S"),
            ":vf": _lit(statuses.VALIDATION_FAILED),
            ":tf": _lit(statuses.TRANSFORMATION_FAILED),
            ":also": _s("$.also"),
            ":most": tasks.DynamoAttributeValue.from_number(MAX_ATTEMPTS - 1),
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry_dynamodb(begin)
    # The condition failed: another request began an attempt first, the version is in progress or not
    # in a status that may run again, or this execution's own write was applied and its reply lost.
    look = _read_item(scope, "Whose attempt is it?", res, ("execution",), "$.now_owned")
    not_begun = sfn.Succeed(
        scope, "Not begun", comment="Another attempt began first, or the version's status may not run again"
    )
    look.next(
        sfn.Choice(scope, "Begun by this execution?")
        .when(sfn.Condition.string_equals_json_path("$.now_owned.Item.execution.S", "$.execution"), validate)
        .otherwise(not_begun)
    )
    # The ledger out of reach after its retries: nothing of this attempt may be left unsettled. Before the
    # write nothing changed; after it, the item is this execution's and the reconciler settles it.
    unreachable = sfn.Fail(scope, "Attempt not begun", error=LEDGER_UNAVAILABLE, cause_path=CAUGHT_FAILURE)
    read.add_catch(unreachable, errors=["States.ALL"], result_path="$.failure")
    look.add_catch(unreachable, errors=["States.ALL"], result_path="$.failure")
    begin.add_catch(look, errors=[CONDITIONAL_CHECK_FAILED], result_path="$.not_begun")
    begin.add_catch(unreachable, errors=["States.ALL"], result_path="$.failure")
    begin.next(validate)
    # A DEFERRED version goes on with its attempt (a deferral is no attempt of its own: the file was not at
    # fault), taken over by this execution in one conditional write, as a new attempt would be.
    resume = tasks.DynamoUpdateItem(
        scope,
        "Resume the deferred attempt",
        table=res.table,
        key=_file_key(),
        update_expression=(
            "SET #status = :received, #execution = :exec, #updated = :now, resumed_at = :now REMOVE #error, #cause"
        ),
        condition_expression="#execution = :last_exec AND #status = :deferred",
        expression_attribute_names=_FAILURE_NAMES,
        expression_attribute_values={
            ":received": _lit(statuses.RECEIVED),
            ":exec": _s("$.execution"),
            ":now": _s("$$.State.EnteredTime"),
            ":last_exec": _s("$.previous.Item.execution.S"),
            ":deferred": _lit(statuses.DEFERRED),
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry_dynamodb(resume)
    resume.add_catch(look, errors=[CONDITIONAL_CHECK_FAILED], result_path="$.not_begun")
    resume.add_catch(unreachable, errors=["States.ALL"], result_path="$.failure")
    resume.next(validate)
    unknown = sfn.Succeed(scope, "Not in the ledger", comment="Only a version the ledger knows runs again")
    known = (
        sfn.Choice(scope, "Known version?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.previous.Item"),
                sfn.Condition.string_equals("$.also", statuses.DEFERRED),
            ),
            resume,
        )
        .when(sfn.Condition.is_present("$.previous.Item"), begin)
        .otherwise(unknown)
    )
    read.next(known)

    def identify(name: str, also: str) -> sfn.Pass:
        return sfn.Pass(
            scope,
            name,
            parameters={
                "bucket.$": "$.bucket",
                "key.$": "$.key",
                "version.$": "$.version",
                "execution.$": "$$.Execution.Id",
                "file_id.$": f"States.Format('{FILE_ID_FORMAT}', $.bucket, $.key, $.version)",
                # A third status that may run again: COMPLETED, or none; DEFERRED resumes instead.
                "also": also,
            },
        )

    invalid = sfn.Fail(
        scope,
        "Invalid request",
        error="InvalidReprocessRequest",
        cause=f"{statuses.REPROCESS} must be 'failed', 'any' or 'deferred'",
    )
    return (
        sfn.Choice(scope, "Which versions may run again?")
        .when(
            sfn.Condition.string_equals(f"$.{statuses.REPROCESS}", statuses.REPROCESS_FAILED),
            identify("Identify a failed version", "-").next(read),
        )
        .when(
            sfn.Condition.string_equals(f"$.{statuses.REPROCESS}", statuses.REPROCESS_ANY),
            identify("Identify any final version", statuses.COMPLETED).next(read),
        )
        .when(
            sfn.Condition.string_equals(f"$.{statuses.REPROCESS}", statuses.REPROCESS_DEFERRED),
            identify("Identify a deferred version", statuses.DEFERRED).next(read),
        )
        .otherwise(invalid)
    )


def _catch_for_the_sweep(
    scope: Construct, res: Resources, task: sfn.TaskStateBase, fail_name: str, park_name: str, error: str
) -> None:
    """Catch any failure of `task` left after its retries: park the input for the sweep (when there is a queue
    to park it in), then fail the execution with `error` and the caught failure as its cause."""
    fail = sfn.Fail(scope, fail_name, error=error, cause_path=CAUGHT_FAILURE)
    target: sfn.IChainable = fail
    if res.parking is not None:
        park = _park(scope, res, park_name, error)
        park.add_catch(fail, errors=["States.ALL"], result_path="$.park_error")
        target = park.next(fail)
    task.add_catch(target, errors=["States.ALL"], result_path="$.failure")


def _park(scope: Construct, res: Resources, name: str, error: str) -> tasks.SqsSendMessage:
    """Leave this execution's input for the sweep, as the status-change event its failure would send: its
    `error`, and the caught failure (`$.failure`) as the cause.

    No ledger item records a file whose RECEIVED could not be written, and an EXPRESS execution sends
    no status-change event: without this, nothing could find the file again. The sweep hands the
    message to the reconciler, which records the version. (A STANDARD execution's own event does the
    same; the second settling finds the item final and changes nothing.)
    """
    assert res.parking is not None
    task = tasks.SqsSendMessage(
        scope,
        name,
        queue=res.parking,
        message_body=sfn.TaskInput.from_object(
            {
                "source": "etl-constructs.data-path",
                "detail-type": f"{error}: input left for the sweep",
                "detail": {
                    "executionArn": sfn.JsonPath.string_at("$$.Execution.Id"),
                    "stateMachineArn": sfn.JsonPath.string_at("$$.StateMachine.Id"),
                    "status": "FAILED",
                    "input": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$$.Execution.Input")),
                    "error": error,
                    "cause": sfn.JsonPath.string_at(CAUGHT_FAILURE),
                },
            }
        ),
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry.apply(task, SQS_RETRY_ERRORS)
    return task


def reconciler(scope: Construct, res: Resources) -> sfn.IChainable:
    """Settle the ledger item of an execution that ended without success, from its status-change event.

    An execution that failed (its own failure path failed, or a state hit a runtime error), timed out
    or was aborted runs no catch that settles its item. The reconciler settles it as the step's
    failed status, removes an uncommitted output, and quarantines the version. An item already
    final is left alone. An execution that failed before it could record RECEIVED left no item:
    the reconciler records the version as VALIDATION_FAILED, so it can be found and run again.

    The sweep hands it items left unsettled as events of status `UNSETTLED`. A settle repeated
    for the same execution (a redrive after a run that settled the item and then failed) goes on to
    retract and quarantine again, both idempotent, so a half-settled file is finished.
    """
    read = sfn.Pass(
        scope,
        "Read execution event",
        parameters={
            "input.$": "States.StringToJson($.detail.input)",
            "execution.$": "$.detail.executionArn",
            "ended.$": "$.detail.status",
            "event.$": "$.detail",
        },
    )

    def identify(name: str, failure: dict[str, str]) -> sfn.Pass:
        return sfn.Pass(
            scope,
            name,
            parameters={
                "bucket.$": "$.input.bucket",
                "key.$": "$.input.key",
                "version.$": "$.input.version",
                "execution.$": "$.execution",
                "file_id.$": f"States.Format('{FILE_ID_FORMAT}', $.input.bucket, $.input.key, $.input.version)",
                "failure": failure,
                "request.$": "$.input",
            },
        )

    from_event = identify(
        "Identify settled version",
        {
            "Error.$": "States.Format('Execution{}', $.ended)",
            "Cause.$": "States.Format('the execution ended {} before a final status', $.ended)",
        },
    )
    # A failed execution's event names its error and cause (a Fail state's, or a runtime error's); so does
    # a parked input. Null for a time-out or an abort.
    # https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
    from_named_event = identify("Identify failed version", {"Error.$": "$.event.error", "Cause.$": "$.event.cause"})
    from_error_only = identify(
        "Identify version failed without a cause",
        {"Error.$": "$.event.error", "Cause.$": "States.Format('the execution ended {} with no cause', $.ended)"},
    )
    from_sweep = identify(
        "Identify swept version",
        {
            "Error": "ExecutionUnsettled",
            "Cause": "no final status long after the execution's timeout: settled by the sweep",
        },
    )
    settler = "$$.Execution.Id"

    def settle(name: str, status: str, allowed: tuple[str, ...]) -> tasks.DynamoUpdateItem:
        task = tasks.DynamoUpdateItem(
            scope,
            name,
            table=res.table,
            key=_file_key(),
            update_expression=(
                "SET #status = :failed, #updated = :now, failed_at = :now, #error = :error, #cause = :cause,"
                " settled_by = :settler"
            ),
            # In progress for that execution; or settled already by a reconciler for that execution (a
            # retry after a lost reply, or a redrive after a run that failed later): settled the same way.
            condition_expression=(
                "(#status IN (:a0, :a1) AND #execution = :exec)"
                " OR (attribute_exists(settled_by) AND #execution = :exec AND #status = :failed)"
            ),
            expression_attribute_names=_FAILURE_NAMES,
            expression_attribute_values={
                ":failed": _lit(status),
                ":now": _s("$$.State.EnteredTime"),
                ":error": _s("$.failure.Error"),
                ":cause": _s("$.failure.Cause"),
                ":exec": _s("$.execution"),
                ":settler": _s(settler),
                ":a0": _lit(allowed[0]),
                ":a1": _lit(allowed[1]),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        res.retry_dynamodb(task)
        return task

    settled = sfn.Succeed(scope, "Settled")
    final_already = sfn.Succeed(scope, "Already final")
    quarantine = _quarantine(scope, "Quarantine unsettled copy", res)
    quarantine.add_catch(settled, errors=["States.ALL"], result_path="$.quarantine_error")
    quarantine.next(settled)
    retract = _retract(scope, "Retract unsettled output", res)
    retract.add_catch(quarantine, errors=["States.ALL"], result_path="$.retract_error")
    retract.next(quarantine)
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

    def settled_as(status: str) -> sfn.Pass:
        return sfn.Pass(
            scope, f"Settled as {status}", result=sfn.Result.from_object({"status": status}), result_path="$.settle"
        )

    as_validation.next(settled_as(statuses.VALIDATION_FAILED)).next(retract)
    as_transform.next(settled_as(statuses.TRANSFORMATION_FAILED)).next(retract)

    # No item at all: the execution failed before RECEIVED. Record the version, findable and runnable again.
    unrecorded = tasks.DynamoPutItem(
        scope,
        "Record unrecorded version",
        table=res.table,
        item={
            **_version_item(statuses.VALIDATION_FAILED),
            "error": _s("$.failure.Error"),
            "cause": _s("$.failure.Cause"),
            "failed_at": _s("$$.State.EnteredTime"),
            "updated_at": _s("$$.State.EnteredTime"),
            "settled_by": _s(settler),
        },
        condition_expression=(
            "attribute_not_exists(file_id)"
            " OR (attribute_exists(settled_by) AND #execution = :exec AND #status = :failed)"
        ),
        expression_attribute_names={"#execution": "execution", "#status": "status"},
        expression_attribute_values={":exec": _s("$.execution"), ":failed": _lit(statuses.VALIDATION_FAILED)},
        result_path=sfn.JsonPath.DISCARD,
    )
    res.retry_dynamodb(unrecorded)
    unrecorded.add_catch(as_validation, errors=[CONDITIONAL_CHECK_FAILED], result_path="$.recorded_meanwhile")
    unrecorded.next(
        sfn.Pass(
            scope,
            "Settled unrecorded",
            result=sfn.Result.from_object({"status": statuses.VALIDATION_FAILED}),
            result_path="$.settle",
        )
    ).next(quarantine)
    look = _read_item(scope, "Look up the item", res, ("file_id",), "$.ledger")
    found = (
        sfn.Choice(scope, "Recorded?")
        .when(sfn.Condition.is_present("$.ledger.Item"), as_validation)
        .when(
            sfn.Condition.is_present(f"$.request.{statuses.REPROCESS}"),
            sfn.Succeed(scope, "Nothing to settle", comment="A request for a new attempt of a version never recorded"),
        )
        .otherwise(unrecorded)
    )
    from_event.next(look)
    from_named_event.next(look)
    from_error_only.next(look)
    from_sweep.next(look)
    look.next(found)

    def given(field: str) -> sfn.Condition:
        """The event's `field` is a string (absent, or null, for a time-out or an abort)."""
        return sfn.Condition.and_(
            sfn.Condition.is_present(f"$.event.{field}"), sfn.Condition.is_string(f"$.event.{field}")
        )

    source = (
        sfn.Choice(scope, "Found by the sweep?")
        .when(sfn.Condition.string_equals("$.ended", UNSETTLED), from_sweep)
        .when(sfn.Condition.and_(given("error"), given("cause")), from_named_event)
        .when(given("error"), from_error_only)
        .otherwise(from_event)
    )
    return read.next(source)
