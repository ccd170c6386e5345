"""Faults on purpose: a call fails, a call is applied but its reply is lost, a function is killed.

A fault names the service (its signing name: `dynamodb`, `s3`, `lambda`, `states`), the
operation (`PutItem`), optionally the request it hits (`match`: parameters the request must
hold, or a predicate on them) and the caller (`caller`: part of a function's or state machine's
name), and how many matching requests it hits (`times`). Faults apply to every SDK call of the
emulation, at the HTTP layer: the SDK's own retries see each attempt, as they would in AWS.

- `Fault.error`: the service answers with an error and applies nothing.
- `Fault.reply_lost`: the service applies the call, then the connection drops before the reply
  (the caller sees a read timeout). The write happened; the caller does not know it.
- `Fault.kill`: the function is killed as Lambda kills it at its timeout: when it makes the
  matching call (the call is not applied, and nothing after it runs), or, with no service, after
  its code has returned and before Lambda replies. Step Functions sees the function time out.
"""

from __future__ import annotations

import difflib
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from unittest import mock

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from .calls import Call, current_call, current_invocation

#: The moto method wrapped here; tests/constructs/local/test_moto_hooks.py checks it exists.
SEND_HOOK = (BotocoreStubber, "__call__")

Kind = Literal["error", "reply_lost", "kill"]
KINDS: tuple[str, ...] = ("error", "reply_lost", "kill")
#: boto3's client names that differ from the signing names faults match on.
_SIGNING_NAMES = {"stepfunctions": "states"}
Match = Mapping[str, Any] | Callable[[dict[str, Any]], bool]

#: The error each service gives for a fault of its own, when `code` is not given.
_DEFAULT_ERRORS = {
    "dynamodb": ("InternalServerError", 500),
    "s3": ("InternalError", 500),
    "lambda": ("ServiceException", 500),
    "states": ("ServiceUnavailable", 500),
}
_XML_SERVICES = frozenset({"s3", "sqs", "sns", "sts", "iam", "cloudwatch"})


class FunctionKilled(BaseException):
    """Raised in a function's thread when a kill fault hits it; the code cannot catch it (BaseException)."""


@dataclass
class Fault:
    """One fault to inject; `hits` counts the requests it has hit so far. Make one with `Fault.error`,
    `Fault.reply_lost` or `Fault.kill`.

    Attributes:
        kind: "error" (refused, nothing applied), "reply_lost" (applied, its reply lost) or "kill" (the
            function killed as at its timeout).
        service: the AWS service called (`s3`, `dynamodb`, `lambda`...), by its SDK name.
        operation: the operation (`GetObject`, `UpdateItem`...). Default: any.
        match: request parameters the call must hold (a mapping), or a predicate on the call. Default: any.
        times: how many matching calls it strikes; None strikes every one. Default: 1.
        caller: part of the name of the function or state machine making the call. Default: any caller.
        code: the error code of an "error" fault. Default: the service's internal error.
        status: the HTTP status of an "error" fault. Default: 500.
        message: the error message. Default: "fault injected by etl-constructs run-local".
        hits: how many calls it has struck so far.
    """

    kind: Kind
    service: str | None
    operation: str | None = None
    match: Match | None = None
    times: int | None = 1
    caller: str | None = None
    code: str | None = None
    status: int | None = None
    message: str = "fault injected by etl-constructs run-local"
    hits: int = field(default=0, init=False)

    @classmethod
    def error(
        cls,
        service: str,
        operation: str | None = None,
        *,
        match: Match | None = None,
        times: int | None = 1,
        caller: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> Fault:
        """The service refuses the matching call (default: its internal error, HTTP 500); nothing is applied."""
        return cls("error", service, operation, match, times, caller, code, status)

    @classmethod
    def reply_lost(
        cls,
        service: str,
        operation: str | None = None,
        *,
        match: Match | None = None,
        times: int | None = 1,
        caller: str | None = None,
    ) -> Fault:
        """The service applies the matching call; its reply is lost (the caller sees a read timeout)."""
        return cls("reply_lost", service, operation, match, times, caller)

    @classmethod
    def kill(
        cls,
        function: str,
        service: str | None = None,
        operation: str | None = None,
        *,
        match: Match | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Kill the function whose name contains `function`: at the matching call, or (no service) at its end."""
        return cls("kill", service, operation, match, times, caller=function)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be 1 or more, or None for every matching request")
        if self.kind != "kill" and not self.service:
            raise ValueError(f"a {self.kind} fault needs a service")
        if self.caller is not None and not self.caller:
            raise ValueError("caller (or the function to kill) must not be empty: it would match every caller")
        if self.service is not None:
            self.service, self.operation = _checked(self.service, self.operation)

    @property
    def exhausted(self) -> bool:
        """True when it has hit as many requests as it may."""
        return self.times is not None and self.hits >= self.times

    def matches(self, call: Call | None, at_end: bool = False) -> bool:
        """True when `call` (or, with `at_end`, a function's return) is one this fault hits."""
        if self.exhausted:
            return False
        if at_end:
            return self.kind == "kill" and self.service is None
        if call is None or self.service is None or call.service != self.service:
            return False
        if self.operation is not None and call.operation != self.operation:
            return False
        if self.caller is not None and (call.principal is None or self.caller not in call.principal.label):
            return False
        return self.match is None or _params_match(self.match, call.params)


def _checked(service: str, operation: str | None) -> tuple[str, str | None]:
    """The service's signing name and the operation, checked against botocore's models (a typo is an error)."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    client_names = {v: k for k, v in _SIGNING_NAMES.items()}
    session = botocore.session.get_session()
    try:
        model = session.get_service_model(client_names.get(service, service))
    except UnknownServiceError:
        known = ", ".join(sorted({"s3", "dynamodb", "lambda", "states", "sqs", "sns", "events", "kms"}))
        raise ValueError(f"unknown service {service!r}: a boto3 client name such as {known}") from None
    if operation is not None and operation not in model.operation_names:
        close = difflib.get_close_matches(operation, model.operation_names, n=3, cutoff=0.3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{service} has no operation {operation!r} (operations are named as in the API){hint}")
    return model.signing_name, operation


def _params_match(match: Match, params: dict[str, Any]) -> bool:
    if callable(match):
        return bool(match(params))
    return _contains(params, match)


def _contains(value: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(value, Mapping) and all(k in value and _contains(value[k], v) for k, v in expected.items())
    return bool(value == expected)


class FaultPlan:
    """The faults of one emulation; thread-safe, each fault counting its own hits."""

    def __init__(self, faults: Sequence[Fault] = ()) -> None:
        self._faults = list(faults)
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Inject `fault` from now on; return it (its `hits` tell how often it struck)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Inject no more of the faults added so far."""
        with self._lock:
            self._faults.clear()

    def take(self, call: Call | None, function: str | None = None, at_end: bool = False) -> Fault | None:
        """The first fault that hits this call (counted as a hit), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == "kill" and (function is None or (fault.caller or "") not in function):
                    continue
                if fault.kind != "kill" and at_end:
                    continue
                if fault.matches(call, at_end=at_end):
                    fault.hits += 1
                    return fault
        return None


def _error_response(request: Any, service: str, fault: Fault) -> AWSResponse:
    code, status = _DEFAULT_ERRORS.get(service, ("InternalFailure", 500))
    code, status = fault.code or code, fault.status or status
    request_id = f"fault-{uuid.uuid4()}"
    if service in _XML_SERVICES:
        body = (
            f"<Error><Code>{code}</Code><Message>{fault.message}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    else:
        body = json.dumps({"__type": code, "message": fault.message})
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": request_id,
        }
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


@contextmanager
def injected(plan: FaultPlan) -> Iterator[None]:
    """While open, every request moto answers passes `plan` first."""
    send = SEND_HOOK[0].__call__

    def faulty(stubber: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        invocation = current_invocation()
        function = invocation.function if invocation else None
        if invocation is not None and invocation.dead:
            raise FunctionKilled(function)  # a killed function does nothing more, in any of its threads
        call = current_call()
        fault = plan.take(call, function=function) if call is not None else None
        if fault is None:
            return send(stubber, event_name, request, **kwargs)
        if fault.kind == "kill" and invocation is not None:
            invocation.dead = True
            raise FunctionKilled(function)
        if fault.kind == "error":
            return _error_response(request, call.service if call else "", fault)
        send(stubber, event_name, request, **kwargs)  # applied...
        if invocation is None and call is not None and call.service == "lambda":
            # A state machine's invoke whose reply is lost: Step Functions reports a Lambda service error.
            return _error_response(request, "lambda", fault)
        raise ReadTimeoutError(endpoint_url=request.url)  # ...and the reply never arrives

    with mock.patch.object(*SEND_HOOK, faulty):
        yield


def killed_at_end(plan: FaultPlan, function: str) -> bool:
    """True when a kill fault strikes `function` after its code returned, before Lambda replies."""
    return plan.take(None, function=function, at_end=True) is not None
