"""The validate function: stream the object version through the data contract's checks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import statuses
from .core import validate
from .core.control import (
    CONTROL_PENDING,
    MAX_CONTROL_BYTES,
    ControlRecord,
    ControlRecordError,
    control_key,
    data_key,
    is_control_key,
)
from .core.results import RowError, ValidationResult
from .ledger import StatusConflict
from .quarantine import quarantine
from .runtime import FileRef, entry_point, logger, metrics, runtime
from .s3io import open_version, read_latest

#: The `action` of a task input that quarantines an object version after a fault.
QUARANTINE_ACTION = "quarantine"
#: The statuses a fault may end a file in; the quarantine report records which.
FAULT_STATUSES = (statuses.VALIDATION_FAILED, statuses.TRANSFORMATION_FAILED)


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Validate one object version; record VALIDATED, or quarantine it and record VALIDATION_FAILED.

    With `"action": "quarantine"` the input comes from the state machine's failure path instead,
    and the version is quarantined for its fault (see `quarantine_fault`).
    """
    rt = runtime()
    file = FileRef.from_event(event)
    logger.append_keys(file_id=file.file_id)
    if event.get("action") == QUARANTINE_ACTION:
        return quarantine_fault(file, event["status"], event.get("failure") or {})
    try:
        rt.ledger.transition(
            file.file_id, file.execution, (statuses.RECEIVED, statuses.VALIDATING), statuses.VALIDATING
        )
    except StatusConflict:
        # A retry of a step that did finish (its response was lost) returns what it recorded.
        done = rt.ledger.finished_by(
            file.file_id, file.execution, (statuses.VALIDATED, statuses.VALIDATION_FAILED, statuses.COMPLETED)
        )
        if done is None:
            raise
        logger.info("validation already recorded by this execution", extra={"status": done["status"]})
        return _recorded(done)
    config = rt.settings.config
    if is_control_key(file.key):
        return _control_record(rt, file)
    fmt = config.format_for_key(file.key)
    control: ControlRecord | None = None
    problem: str | None = None
    found: dict[str, Any] = {}
    if fmt is not None and config.control_totals:
        control, version, problem = _read_control(rt, file)
        if control is None and problem is None:
            return {"status": CONTROL_PENDING}  # the item stays VALIDATING; the state machine looks again
        if version is not None:
            found["control_version"] = version
    if fmt is None:
        result = _rejected("unsupported format")
    elif problem is not None:
        result = _rejected(problem)  # the data is not read: without its control record it cannot complete
    else:
        body = open_version(rt.s3, file.bucket, file.key, file.version)
        try:
            result = validate(body, fmt, config, control)
        finally:
            body.close()
    return _record_outcome(rt, file, fmt, result, found)


def _rejected(message: str) -> ValidationResult:
    return ValidationResult(0, 0, 0, (RowError(None, None, message),), 1, 0)


def _read_control(rt: Any, file: FileRef) -> tuple[ControlRecord | None, str | None, str | None]:
    """The data file's control record and its version; or why the file is rejected without it; or
    (None, None, None) while it has not arrived and the file may look again.

    Each look that finds nothing is counted on the ledger item (`control_checks`); past the configured
    number of looks, an interval apart, the wait is over. Counting, not a clock, ends the wait, so a
    local run that skips the intervals ends it too.
    """
    key = control_key(file.key)
    where = f"s3://{file.bucket}/{key}"
    found = read_latest(rt.s3, file.bucket, key, MAX_CONTROL_BYTES + 1)
    if found is None:
        config = rt.settings.config
        if rt.ledger.count_control_check(file.file_id, file.execution) <= config.control_checks:
            return None, None, None
        wait = config.control_wait_seconds
        return None, None, f"no control record arrived at {where} in the {wait} s the pipeline waits for one"
    data, version = found
    try:
        return ControlRecord.from_bytes(data), version, None
    except ControlRecordError as exc:
        return None, version, f"the control record at {where} is malformed: {exc}"


def _control_record(rt: Any, file: FileRef) -> dict[str, Any]:
    """Check a control record (`<data key>.control.json`) and record it COMPLETED, or reject and quarantine it.

    A control record is never read as data, although `.json` is an accepted suffix: its data file's
    validation reads it. Its own execution gives it what a data file has: one ledger item per
    version, and a quarantined copy with a report when it is malformed.
    """
    body = open_version(rt.s3, file.bucket, file.key, file.version)
    try:
        data = body.read(MAX_CONTROL_BYTES + 1)
    finally:
        body.close()
    try:
        record = ControlRecord.from_bytes(data)
    except ControlRecordError as exc:
        return _record_outcome(rt, file, "control", _rejected(str(exc)))
    fields = {"record_count": record.record_count, "control_for": data_key(file.key)}
    rt.ledger.transition(file.file_id, file.execution, (statuses.VALIDATING,), statuses.COMPLETED, **fields)
    logger.info("control record recorded", extra=fields)
    return {"status": statuses.COMPLETED, "format": "control", **fields}


def _record_outcome(
    rt: Any, file: FileRef, fmt: str | None, result: ValidationResult, found: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Record VALIDATED, or quarantine the version and record VALIDATION_FAILED; return the outcome.

    `found`: more to record on the item (the version of the control record read).
    """
    metrics.add_metric(name="BytesRead", unit=MetricUnit.Bytes, value=result.bytes_read)
    metrics.add_metric(name="RowsValidated", unit=MetricUnit.Count, value=result.rows_valid)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=result.rows_rejected)
    counts = {
        "rows_total": result.rows_total,
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
    }
    extra = {"schema_hash": rt.settings.config.schema_hash, **(found or {})}
    if result.ok:
        rt.ledger.transition(
            file.file_id, file.execution, (statuses.VALIDATING,), statuses.VALIDATED, **extra, **counts
        )
        logger.info("file validated", extra=counts)
        return {"status": statuses.VALIDATED, "format": fmt, **counts}
    settings = rt.settings
    qkey = quarantine(
        rt.s3,
        file.source(),
        settings.quarantine_bucket,
        settings.quarantine_key(file.key, file.version),
        list(result.errors),
        result.error_count,
        counts,
        status=statuses.VALIDATION_FAILED,
    )
    first = result.errors[0]
    error = first.message if first.row is None else f"row {first.row} {first.field}: {first.message}"
    rt.ledger.transition(
        file.file_id,
        file.execution,
        (statuses.VALIDATING,),
        statuses.VALIDATION_FAILED,
        error=error,
        error_count=result.error_count,
        quarantine_bucket=settings.quarantine_bucket,
        quarantine_key=qkey,
        **extra,
        **counts,
    )
    metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
    logger.warning("file rejected", extra={"error_count": result.error_count, "first_error": error})
    return {
        "status": statuses.VALIDATION_FAILED,
        "error": error,
        "error_count": result.error_count,
        "quarantine_key": qkey,
        **counts,
    }


def _recorded(item: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "rows_total", "rows_valid", "rows_rejected", "error", "error_count", "quarantine_key")
    return {k: item[k] for k in keys if k in item}


def quarantine_fault(file: FileRef, status: str, failure: dict[str, Any]) -> dict[str, str]:
    """Copy the version to quarantine with a report naming the fault; return where it went.

    The state machine's failure path calls this (the Step Functions S3 integration cannot
    URL-encode a CopySource; boto3 does) and records `status` in the ledger right after, so
    nothing is recorded here. The copy and the report overwrite, so a retry is harmless.
    """
    if status not in FAULT_STATUSES:
        raise ValueError(f"a fault ends a file in {' or '.join(FAULT_STATUSES)}, not {status!r}")
    rt = runtime()
    settings = rt.settings
    error, cause = str(failure.get("Error") or "UnknownError"), str(failure.get("Cause") or "")
    fault = RowError(None, None, f"{error}: {cause}" if cause else error)
    key = quarantine(
        rt.s3,
        file.source(),
        settings.quarantine_bucket,
        settings.quarantine_key(file.key, file.version),
        [fault],
        1,
        {},
        status=status,
    )
    logger.warning("file quarantined after a fault", extra={"status": status, "error": error})
    return {"quarantine_bucket": settings.quarantine_bucket, "quarantine_key": key}
