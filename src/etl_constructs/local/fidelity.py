"""Where moto departs from AWS in a way the pipeline's guarantees rest on, and the patch that closes it.

DynamoDB applies a conditional write atomically. moto checks the condition and then writes, so two
executions running at once (a repeated delivery) can both pass `attribute_not_exists`. While the
emulation runs, writes to moto's DynamoDB take one lock, as they effectively do in AWS.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend

#: moto's write operations made atomic; tests/constructs/local/test_moto_hooks.py checks they exist.
ATOMIC_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


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
