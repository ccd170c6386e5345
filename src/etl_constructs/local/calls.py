"""Who is calling what: the AWS call in progress on each thread, and the principal that signs it.

Every SDK call made while run-local runs (by the runner, by moto's Step Functions on behalf of a
state machine, by a function's code) goes through botocore's `BaseClient._make_api_call` and is
signed by `RequestSigner`. While `calls_in_context()` is open:

- `current_call()` gives the call in progress on this thread (service, operation, parameters),
  which authorization and fault injection read: moto's own request objects hold only the wire form.
- Requests are signed with the credentials of the principal the thread acts as (`acting_as`),
  whatever credentials the client was built with: a function's code signs as its execution role,
  a state machine's service integrations as the state machine's role, as in AWS.
- A thread started, or a task submitted to a thread pool, acts as the thread that started it:
  a function's S3 transfers run in threads of their own, and so do moto's task states.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from botocore.credentials import Credentials
from botocore.signers import RequestSigner

#: The botocore internals wrapped here; tests/constructs/local/test_moto_hooks.py checks they exist.
CALL_HOOK = (BaseClient, "_make_api_call")
SIGNER_HOOK = (RequestSigner, "get_auth_instance")
THREAD_HOOKS = ((threading.Thread, "start"), (threading.Thread, "_bootstrap_inner"), (ThreadPoolExecutor, "submit"))
#: The modules of moto's Step Functions that build an SDK client for each task they run.
TASK_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
)


@dataclass(frozen=True)
class Principal:
    """An IAM identity run-local signs as: its ARN, the role it acts for, and its credentials."""

    arn: str
    role_arn: str
    credentials: Credentials = field(compare=False, repr=False)
    #: What the reports call it: a function name, a state machine name, or "run-local".
    label: str = ""


@dataclass(frozen=True)
class Call:
    """One SDK call: the service's signing name (`dynamodb`, `s3`, `states`), operation and parameters."""

    service: str
    operation: str
    params: dict[str, Any]
    principal: Principal | None
    #: The ARN of the execution the call is made for (by its state machine or a function it invoked), if any.
    execution: str | None = None


@dataclass
class Invocation:
    """One run of a function's code, shared by the threads it starts; `dead` once a kill fault struck it."""

    function: str
    dead: bool = False


_local = threading.local()


def current_invocation() -> Invocation | None:
    """The function invocation this thread works for, or None (the runner, a state machine)."""
    return getattr(_local, "invocation", None)


@contextmanager
def _bound(name: str, value: object) -> Iterator[None]:
    """While open, this thread's `name` is `value` (threads it starts inherit it); then what it was."""
    saved = getattr(_local, name, None)
    setattr(_local, name, value)
    try:
        yield
    finally:
        setattr(_local, name, saved)


def working_for(invocation: Invocation | None) -> AbstractContextManager[None]:
    """While open, this thread (and those it starts) work for `invocation`."""
    return _bound("invocation", invocation)


def current_execution() -> str | None:
    """The ARN of the execution this thread works for, or None."""
    return getattr(_local, "execution", None)


def for_execution(arn: str | None) -> AbstractContextManager[None]:
    """While open, this thread's calls (and those of the threads it starts) are made for execution `arn`."""
    return _bound("execution", arn)


def _context() -> tuple[Principal | None, Invocation | None, str | None]:
    return current_principal(), current_invocation(), current_execution()


def _enter(context: tuple[Principal | None, Invocation | None, str | None]) -> None:
    _local.principal, _local.invocation, _local.execution = context


def current_call() -> Call | None:
    """The innermost SDK call in progress on this thread, or None."""
    stack: list[Call] = getattr(_local, "calls", [])
    return stack[-1] if stack else None


def current_principal() -> Principal | None:
    """The principal this thread acts as, or None (the process's default credentials)."""
    return getattr(_local, "principal", None)


def acting_as(principal: Principal | None) -> AbstractContextManager[None]:
    """While open, this thread's SDK calls are signed as `principal` (None: as the default)."""
    return _bound("principal", principal)


@contextmanager
def calls_in_context(default: Principal | None = None) -> Iterator[None]:
    """While open, calls are recorded per thread and signed as the thread's principal (or `default`)."""
    make_api_call = CALL_HOOK[0]._make_api_call
    get_auth_instance = SIGNER_HOOK[0].get_auth_instance

    def recorded(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        model = client.meta.service_model
        principal = current_principal() or default
        call = Call(model.signing_name, operation_name, dict(api_params), principal, current_execution())
        stack: list[Call] = _local.__dict__.setdefault("calls", [])
        stack.append(call)
        try:
            return make_api_call(client, operation_name, api_params)
        finally:
            stack.pop()

    def signed(signer: RequestSigner, *args: Any, **kwargs: Any) -> Any:
        principal = current_principal() or default
        if principal is not None:
            kwargs["request_credentials"] = principal.credentials
        return get_auth_instance(signer, *args, **kwargs)

    with (
        mock.patch.object(*CALL_HOOK, recorded),
        mock.patch.object(*SIGNER_HOOK, signed),
        _inherited_by_threads(),
    ):
        yield


@contextmanager
def shared_task_clients() -> Iterator[None]:
    """While open, moto's state machines share one SDK client per service instead of building one per task.

    Building a client costs about as much as the call it makes. A botocore client is thread-safe,
    and the principal that signs is chosen per request (`calls_in_context`), so sharing changes
    nothing else.
    """
    with ExitStack() as stack:
        for name in TASK_CLIENT_MODULES:
            module = importlib.import_module(name)
            stack.enter_context(mock.patch.object(module, "boto_client_for", _shared(module.boto_client_for)))
        yield


def _shared(build: Callable[..., Any]) -> Callable[..., Any]:
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = build(region=region, service=service, state_credentials=None)
            return clients[(region, service)]

    return client


def _carried(fn: Callable[..., object]) -> Callable[..., object]:
    context = _context()

    def run(*args: object, **kwargs: object) -> object:
        saved = _context()
        _enter(context)
        try:
            return fn(*args, **kwargs)
        finally:
            _enter(saved)

    return run


@contextmanager
def _inherited_by_threads() -> Iterator[None]:
    """While open, a new thread or a pool's task acts as, and works for, whoever started it."""
    (thread, start_name), (_, bootstrap_name), (pool, submit_name) = THREAD_HOOKS
    start, bootstrap, submit = getattr(thread, start_name), getattr(thread, bootstrap_name), getattr(pool, submit_name)

    def started(self: threading.Thread) -> None:
        self._etl_context = _context()  # type: ignore[attr-defined]
        start(self)

    def bootstrapped(self: threading.Thread) -> None:
        _enter(getattr(self, "_etl_context", (None, None, None)))
        bootstrap(self)

    def submitted(self: ThreadPoolExecutor, fn: Callable[..., object], /, *args: object, **kwargs: object) -> object:
        return submit(self, _carried(fn), *args, **kwargs)

    with (
        mock.patch.object(thread, start_name, started),
        mock.patch.object(thread, bootstrap_name, bootstrapped),
        mock.patch.object(pool, submit_name, submitted),
    ):
        yield
