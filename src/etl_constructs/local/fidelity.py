"""Where moto departs from AWS in a way the pipeline's guarantees rest on, and the patch that closes it.

DynamoDB applies a conditional write atomically. moto checks the condition and then writes, so two
executions running at once (a repeated delivery) can both pass `attribute_not_exists`. While the
emulation runs, writes to moto's DynamoDB take one lock, as they effectively do in AWS.

S3 writes the object key of its EventBridge events URL-encoded in form style (a space as `+`, `+`
as `%2B`, non-ASCII as UTF-8 `%XX`, `/` kept; see
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html). moto
puts the raw key there, so a key that needs encoding would pass locally and fail in AWS. While the
emulation runs, moto's S3 events carry the key as S3 writes it.

Step Functions gives `$$.State.EnteredTime` as UTC with milliseconds and `Z`
(`2019-03-26T20:14:13.192Z`); moto gives Python's `isoformat()` (`...13.192345+00:00`, no fraction
at all on a whole second). The ledger's timestamps, written by the state machine and the functions
alike, must share one form to sort as times, so the emulation gives AWS's.

Step Functions' `states:startExecution` integration takes the API's parameters in the state's casing
(`StateMachineArn`, `Name`, `Input`); moto passes them to its client as they are, which refuses them, so
a request-response start (the hand-over of a large file to the STANDARD twin) always failed. While the
emulation runs, they reach the client in the API's own casing (`stateMachineArn`, `name`, `input`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import quote_plus, unquote_plus

from moto.dynamodb.models import DynamoDBBackend
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions.parser.asl.component.state import state as sfn_state
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

#: moto's write operations made atomic; tests/constructs/local/test_moto_hooks.py checks they exist.
ATOMIC_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
#: The moto function that sends an S3 event to EventBridge, given the key object.
S3_EVENTBRIDGE_HOOK = (s3_notifications, "_send_event_bridge_message")
#: What moto's states call to build the context object's `State` (with `EnteredTime`).
ENTERED_TIME_HOOK = (sfn_state, "StateData")
#: moto's `states:startExecution` task, whose parameters reach its client in the state's casing.
START_EXECUTION_TASK = (state_task_service_sfn.StateTaskServiceSfn, "_eval_service_task")


def event_key(object_key: str) -> str:
    """The key as S3 writes it in an event: `etl_handlers.core.keys.event_key`, which the handlers decode.

    The constructs do not import the handlers' package (it ships as the functions' asset);
    tests/constructs/local/test_fidelity.py holds this copy to that one.
    """
    return quote_plus(object_key, safe="/")


def object_key(event_key: str) -> str:
    """The object's key from the key as S3 writes it in an event (`etl_handlers.core.keys.object_key`)."""
    return unquote_plus(event_key)


def aws_time(iso: str) -> str:
    """An ISO 8601 time as Step Functions writes its timestamps: UTC, milliseconds, `Z`."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    """While open, moto's DynamoDB write operations run one at a time."""
    lock = threading.RLock()

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return wrapper

    with ExitStack() as stack:
        for name in ATOMIC_WRITES:
            stack.enter_context(mock.patch.object(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name))))
        yield


class _AsInEvent:
    """moto's key object, with its name as S3 writes it in an event."""

    def __init__(self, key: Any) -> None:
        self._key = key

    @property
    def name(self) -> str:
        return event_key(self._key.name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._key, attribute)


@contextmanager
def encoded_s3_event_keys() -> Iterator[None]:
    """While open, moto's S3 EventBridge events carry `detail.object.key` URL-encoded, as S3's do."""
    owner, name = S3_EVENTBRIDGE_HOOK
    send = getattr(owner, name)

    def encoded(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        send(account_id, bucket, event_name, _AsInEvent(key))

    with mock.patch.object(owner, name, encoded):
        yield


@contextmanager
def aws_entered_time() -> Iterator[None]:
    """While open, `$$.State.EnteredTime` in moto's state machines has Step Functions' form."""
    owner, name = ENTERED_TIME_HOOK
    make = getattr(owner, name)

    def state_data(**fields: Any) -> Any:
        if isinstance(fields.get("EnteredTime"), str):
            fields["EnteredTime"] = aws_time(fields["EnteredTime"])
        return make(**fields)

    with mock.patch.object(owner, name, state_data):
        yield


@contextmanager
def api_cased_start_execution() -> Iterator[None]:
    """While open, moto's `states:startExecution` task calls its client with the API's parameter names."""
    owner, name = START_EXECUTION_TASK
    evaluate = getattr(owner, name)

    def cased(self: Any, **kwargs: Any) -> Any:
        parameters = kwargs["normalised_parameters"]
        kwargs["normalised_parameters"] = {key[:1].lower() + key[1:]: value for key, value in parameters.items()}
        return evaluate(self, **kwargs)

    with mock.patch.object(owner, name, cased):
        yield


@contextmanager
def aws_fidelity() -> Iterator[None]:
    """Every patch of this module at once, as run-local applies them."""
    with atomic_dynamodb_writes(), encoded_s3_event_keys(), aws_entered_time(), api_cased_start_execution():
        yield
