"""What both entry points share: AWS clients, Powertools, the event's file reference, fault mapping."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .core.keys import object_key
from .ledger import Ledger
from .s3io import UNVERSIONED, is_pinned
from .settings import Settings

logger = Logger()
metrics = Metrics()
tracer = Tracer()

_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)


class TransientError(Exception):
    """An AWS dependency failed after the SDK's own retries; the state machine retries the step."""


@dataclass(frozen=True)
class FileRef:
    """The object version an execution is about, as the state machine passes it.

    `key` is the object's real key, the one every S3 call uses; `event_key` is the key as S3
    wrote it in its event (URL-encoded) and as the state machine passes it on and builds
    `file_id` from.
    """

    file_id: str
    bucket: str
    key: str
    event_key: str
    version: str
    execution: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> FileRef:
        """Read the task input; its `key` is decoded here, once."""
        return cls(
            file_id=event["file_id"],
            bucket=event["bucket"],
            key=object_key(event["key"]),
            event_key=event["key"],
            version=event.get("version") or UNVERSIONED,
            execution=event["execution"],
        )

    @property
    def pinned(self) -> bool:
        """True when this is one immutable version: it cannot change between the steps."""
        return is_pinned(self.version)

    def source(self) -> dict[str, str]:
        """Bucket, key and version as a dict, for reports."""
        return {"bucket": self.bucket, "key": self.key, "version": self.version}


@dataclass
class Runtime:
    """Clients and settings, made once per Lambda container."""

    settings: Settings
    s3: Any
    ledger: Ledger


@functools.cache
def runtime() -> Runtime:
    """The container's clients; built on first use so importing the module needs no AWS."""
    settings = Settings.from_env()
    configure_powertools()
    dynamodb = aws_client("dynamodb")
    return Runtime(settings=settings, s3=aws_client("s3"), ledger=Ledger(dynamodb, settings.ledger_table))


def configure_powertools() -> None:
    """Powertools reads its namespace and service at import; Lambda sets them first, a local runner or test may not."""
    if os.environ.get("POWERTOOLS_METRICS_NAMESPACE"):
        metrics.namespace = os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    if os.environ.get("POWERTOOLS_SERVICE_NAME"):
        metrics.service = os.environ["POWERTOOLS_SERVICE_NAME"]
        logger.append_keys(service=os.environ["POWERTOOLS_SERVICE_NAME"])


def aws_client(service: str) -> Any:
    """A client in the function's region, with the SDK's standard retries (5 attempts)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region, config=BotoConfig(retries={"mode": "standard", "max_attempts": 5}))


F = TypeVar("F", bound=Callable[..., Any])


def entry_point(func: F) -> F:
    """A Lambda handler with Powertools (logs keyed by file id, metrics, tracing) and fault mapping."""
    wrapped = logger.inject_lambda_context(correlation_id_path="file_id")(
        metrics.log_metrics(tracer.capture_lambda_handler(transient_faults(func)))
    )
    return wrapped  # type: ignore[return-value]


def transient_faults(func: F) -> F:
    """Re-raise an AWS fault that may pass on retry as TransientError, which the state machine retries."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _TRANSIENT_CODES or status >= 500:
                raise TransientError(f"{code or status}: {exc}") from exc
            raise
        except BotoCoreError as exc:
            raise TransientError(str(exc)) from exc

    return wrapper  # type: ignore[return-value]
