"""Lambda in-process: moto's invoke runs Docker, so its hook is replaced by a call to the real handler.

As the Lambda service would, the replacement:
- runs each function with its execution role's credentials (its calls are signed as that role);
- counts each function's invocations in flight, and throttles past its concurrency limit (the
  function's reserved concurrency, or the limit the runner was given) with
  `TooManyRequestsException`, which Step Functions reports as `Lambda.TooManyRequestsException`
  (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html);
- reports a function that ran past its timeout, or that a kill fault struck, as timed out: an
  unhandled error, its side effects so far left in place
  (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html#troubleshooting-timeouts).

The handlers' code runs one invocation at a time (they share this process's environment and
module state); invocations waiting for their turn count as in flight, so a burst throttles at
least as much as it would in AWS, never less.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from .calls import Invocation, Principal, acting_as, current_execution, for_execution, working_for
from .environment import set_variables
from .faults import FaultPlan, FunctionKilled, killed_at_end
from .template import ACCOUNT, REGION

#: The moto internals replaced here; tests/constructs/local/test_moto_hooks.py fails loudly if an upgrade moves them.
INVOKE_HOOK = (LambdaFunction, "_invoke_lambda")
SLEEP_HOOK = (retrier_decl, "time")
WAIT_HOOK = (WaitFunction, "_wait_interval")


@dataclass
class LocalFunction:
    """A function of the template, run from its asset folder."""

    name: str
    asset_dir: Path
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    #: The execution role's ARN, as the template gives it (its credentials sign the function's calls).
    role_arn: str = ""
    #: `ReservedConcurrentExecutions` from the template, or None (the account's pool).
    reserved_concurrency: int | None = None

    def load(self) -> Callable[[dict[str, Any], Any], Any]:
        """Import the handler from the asset folder (first on sys.path, as in Lambda)."""
        folder = str(self.asset_dir)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module_name, _, attribute = self.handler.rpartition(".")
        # The constructs import `etl_handlers.core` (an installed wheel carries it alone, at the top level):
        # the package may already be bound to that folder, so its other modules are looked for in the asset.
        package = sys.modules.get(module_name.partition(".")[0])
        inside = str(self.asset_dir / module_name.partition(".")[0])
        if package is not None and inside not in list(getattr(package, "__path__", [inside])):
            package.__path__.insert(0, inside)
        module = importlib.import_module(module_name)
        handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attribute)
        return handler


class _Context:
    """The parts of a Lambda context the handlers (and Powertools) read."""

    def __init__(self, fn: LocalFunction, request: int, started: float) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = fn.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn.name}"
        self.aws_request_id = f"local-{request:08d}"
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = "local"
        self._deadline = started + fn.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _ScaledSleep:
    """Stands in for the `time` module of moto's retrier: each back-off wait is scaled (0: skipped)."""

    scale = 0.0

    @classmethod
    def sleep(cls, seconds: float) -> None:
        if cls.scale > 0:
            time.sleep(seconds * cls.scale)


def _scaled_wait(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    """Stands in for a Wait state's wait: scaled as the retrier's back-off is (0: not waited)."""
    if wait_seconds > 0 and _ScaledSleep.scale > 0:
        env.program_state_event.wait(wait_seconds * _ScaledSleep.scale)


FaultHook = Callable[[str, dict[str, Any]], None]


@dataclass
class Invocations:
    """What the emulated Lambda service saw, per file id: invocations tried, and those throttled."""

    attempts: Counter[str] = field(default_factory=Counter)
    throttles: Counter[str] = field(default_factory=Counter)


@dataclass
class LambdaService:
    """How the emulated Lambda service runs the functions."""

    functions: dict[str, LocalFunction]
    principals: Mapping[str, Principal] = field(default_factory=dict)
    concurrency: int | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    before_invoke: FaultHook | None = None
    backoff: float = 0.0
    seen: Invocations = field(default_factory=Invocations)

    def limit(self, fn: LocalFunction) -> int | None:
        """The function's concurrency limit: its reserved concurrency or the runner's, whichever is lower."""
        limits = [n for n in (fn.reserved_concurrency, self.concurrency) if n is not None]
        return min(limits) if limits else None


def _timed_out(fn: LocalFunction, request_id: str) -> str:
    return json.dumps(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {fn.timeout_s:.2f} seconds",
        }
    )


def _error(exc: Exception) -> str:
    """The handler's error as Lambda reports it (the task's error is its type)."""
    error = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(exc)[-3:],
    }
    return json.dumps(error)


def _throttled(fn: LocalFunction, limit: int) -> JsonRESTError:
    error = JsonRESTError(
        "TooManyRequestsException",
        f"Rate Exceeded. (function {fn.name}: {limit} concurrent invocation(s) at most)",
    )
    error.code = 429
    return error


@contextmanager
def in_process_lambda(service: LambdaService) -> Iterator[None]:
    """While open, moto's Lambda invokes run `service.functions` in this process."""
    run_lock = threading.Lock()
    count_lock = threading.Lock()
    in_flight: Counter[str] = Counter()
    counter = iter(range(1, 1 << 62))
    last: list[str] = [""]

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        fn = service.functions.get(self.function_name)
        if fn is None:
            message = {"errorMessage": f"no local code for {self.function_name}", "errorType": "ResourceNotFound"}
            return json.dumps(message), True, ""
        payload = event if isinstance(event, dict) else json.loads(event or "{}")
        file_id = str(payload.get("file_id", ""))
        limit = service.limit(fn)
        with count_lock:
            service.seen.attempts[file_id] += 1
            if limit is not None and in_flight[fn.name] >= limit:
                service.seen.throttles[file_id] += 1
                raise _throttled(fn, limit)
            in_flight[fn.name] += 1
        try:
            with run_lock:
                return _run(fn, payload, next(counter), last)
        finally:
            with count_lock:
                in_flight[fn.name] -= 1

    def _run(fn: LocalFunction, payload: dict[str, Any], request: int, last: list[str]) -> tuple[str, bool, str]:
        if last[0] != fn.name:
            forget_container()  # another function: its own settings and clients, as in its own container
            last[0] = fn.name
        # Lambda sets LAMBDA_TASK_ROOT to the code folder (where the schema file is) and
        # AWS_LAMBDA_FUNCTION_MEMORY_SIZE to the function's memory (the duplicate-id check sizes its
        # in-memory stage by it). Python's view only: see the environment module.
        set_variables(
            {
                **fn.environment,
                "LAMBDA_TASK_ROOT": str(fn.asset_dir),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            }
        )
        started = time.monotonic()
        context = _Context(fn, request, started)
        invocation = Invocation(fn.name)
        execution = payload.get("execution") if isinstance(payload.get("execution"), str) else current_execution()
        try:
            with acting_as(service.principals.get(fn.name)), working_for(invocation), for_execution(execution):
                if service.before_invoke is not None:
                    service.before_invoke(fn.name, payload)
                result = fn.load()(payload, context)
        except FunctionKilled:
            return _timed_out(fn, context.aws_request_id), True, ""
        except Exception as exc:
            if invocation.dead:  # killed in a thread of its own (an S3 transfer): the function is dead all the same
                return _timed_out(fn, context.aws_request_id), True, ""
            return _error(exc), True, ""
        if time.monotonic() - started > fn.timeout_s or killed_at_end(service.faults, fn.name):
            return _timed_out(fn, context.aws_request_id), True, ""
        return json.dumps(result), False, ""

    _ScaledSleep.scale = service.backoff
    with (
        mock.patch.object(*INVOKE_HOOK, invoke),
        mock.patch.object(*SLEEP_HOOK, _ScaledSleep),
        mock.patch.object(*WAIT_HOOK, _scaled_wait),
    ):
        yield


def forget_container() -> None:
    """Drop the handlers' cached clients and settings, as a new Lambda container starts without them."""
    runtime = getattr(sys.modules.get("etl_handlers.runtime"), "runtime", None)
    if runtime is not None:
        runtime.cache_clear()
