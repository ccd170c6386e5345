"""Lambda in-process: moto's invoke runs Docker, so its hook is replaced by a call to the real handler."""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

#: The moto internals replaced here; tests/local/test_moto_hooks.py fails loudly if an upgrade moves them.
INVOKE_HOOK = (LambdaFunction, "_invoke_lambda")
SLEEP_HOOK = (retrier_decl, "time")


@dataclass
class LocalFunction:
    """A function of the template, run from its asset folder."""

    name: str
    asset_dir: Path
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int

    def load(self) -> Callable[[dict[str, Any], Any], Any]:
        """Import the handler from the asset folder (first on sys.path, as in Lambda)."""
        folder = str(self.asset_dir)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module_name, _, attribute = self.handler.rpartition(".")
        module = importlib.import_module(module_name)
        handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attribute)
        return handler


class _Context:
    """The parts of a Lambda context the handlers (and Powertools) read."""

    def __init__(self, fn: LocalFunction, request: int) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = fn.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{fn.name}"
        self.aws_request_id = f"local-{request:08d}"
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class _NoSleep:
    """Stands in for the `time` module of moto's retrier: back-off waits are skipped, retries still happen."""

    @staticmethod
    def sleep(seconds: float) -> None:
        return None


FaultHook = Callable[[str, dict[str, Any]], None]


@contextmanager
def in_process_lambda(functions: dict[str, LocalFunction], before_invoke: FaultHook | None = None) -> Iterator[None]:
    """While open, moto's Lambda invokes run `functions` in this process, one at a time."""
    lock = threading.Lock()
    counter = iter(range(1, 1 << 62))

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        fn = functions.get(self.function_name)
        if fn is None:
            message = {
                "errorMessage": f"no local code for {self.function_name}",
                "errorType": "ResourceNotFound",
            }
            return json.dumps(message), True, ""
        payload = event if isinstance(event, dict) else json.loads(event or "{}")
        with lock:
            os.environ.update(fn.environment)
            try:
                if before_invoke is not None:
                    before_invoke(fn.name, payload)
                result = fn.load()(payload, _Context(fn, next(counter)))
                return json.dumps(result), False, ""
            except Exception as exc:  # the handler's error becomes the task's error, as in Lambda
                error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exception(exc)[-3:],
                }
                return json.dumps(error), True, ""

    with mock.patch.object(*INVOKE_HOOK, invoke), mock.patch.object(*SLEEP_HOOK, _NoSleep):
        yield
