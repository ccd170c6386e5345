"""The transform function: stream a validated object version to JSON Lines, published only when complete.

The invariant: an output is visible under its final key if and only if the ledger says COMPLETED
for that attempt. The ledger's COMPLETED is the commit point. The output is written to its final
key, where S3 shows nothing until it is whole (one PUT, or a multipart upload's completion: a
failed or abandoned upload is never visible), then COMPLETED is recorded; until then, whoever sees
the attempt fail (this function's own clean-up, or the state machine's failure path and the
reconciler through the `retract` action, when the function was killed with no chance to clean up)
removes the output unless the ledger shows the commit. No copy is staged: a staged object copied to
its final key was visible at the same moment, for one more PUT-class request and one more copy of
every output (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import statuses
from .core import transform
from .ledger import StatusConflict
from .runtime import FileRef, entry_point, logger, metrics, runtime
from .s3io import MultipartWriter, open_version

#: The `action` of a task input that removes an uncommitted output after a fault.
RETRACT_ACTION = "retract"


class DataChanged(Exception):
    """The object version no longer validates as it did: nothing is published."""


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Transform one validated object version; record COMPLETED with the output's location.

    With `"action": "retract"` the input comes from the state machine's failure path instead: the
    output is removed unless the ledger shows this execution committed it (`{"committed": bool}`).
    """
    rt = runtime()
    settings = rt.settings
    file = FileRef.from_event(event)
    logger.append_keys(file_id=file.file_id)
    if event.get("action") == RETRACT_ACTION:
        return {"committed": retract(file, settings.output_key(file.key, file.version))}
    try:
        rt.ledger.transition(
            file.file_id, file.execution, (statuses.VALIDATED, statuses.TRANSFORMING), statuses.TRANSFORMING
        )
    except StatusConflict:
        # A retry of a step that did finish (its response was lost) returns what it recorded.
        done = rt.ledger.finished_by(file.file_id, file.execution, (statuses.COMPLETED,))
        if done is None:
            raise
        logger.info("transformation already recorded by this execution")
        keys = ("status", "rows_total", "rows_written", "output_bucket", "output_key")
        return {k: done[k] for k in keys if k in done}
    fmt = settings.config.format_for_key(file.key)
    if fmt is None:
        raise DataChanged(f"{file.key} has no accepted suffix")
    output_key = settings.output_key(file.key, file.version)
    writer = MultipartWriter(rt.s3, settings.processed_bucket, output_key)
    body = open_version(rt.s3, file.bucket, file.key, file.version)
    try:
        # A pinned version cannot change after validation; an unversioned object could.
        result = transform(body, writer, fmt, settings.config, already_validated=file.pinned)  # type: ignore[arg-type]
        if result.error_count:
            raise DataChanged(f"{result.error_count} errors on transform after a clean validation")
    except BaseException:
        writer.abort()
        raise
    finally:
        body.close()
    try:
        writer.close()  # the output is visible from here, whole
        rt.ledger.transition(
            file.file_id,
            file.execution,
            (statuses.TRANSFORMING,),
            statuses.COMPLETED,
            rows_total=result.rows_total,
            rows_written=result.rows_written,
            output_bucket=settings.processed_bucket,
            output_key=output_key,
        )
    except Exception:
        # The ledger must never show a failure while a complete-looking output stands: unless the
        # commit was made after all, the output goes (or, if even that fails, the failure path's does).
        # A write whose reply was lost may have made it visible: it is removed all the same.
        writer.abort()
        if not _committed_after_all(file, output_key):
            raise
        logger.warning("COMPLETED was recorded though its call failed; the output stands")
    metrics.add_metric(name="RowsTransformed", unit=MetricUnit.Count, value=result.rows_written)
    metrics.add_metric(name="FilesCompleted", unit=MetricUnit.Count, value=1)
    logger.info("file transformed", extra={"rows": result.rows_written, "output_key": output_key})
    return {
        "status": statuses.COMPLETED,
        "rows_total": result.rows_total,
        "rows_written": result.rows_written,
        "output_bucket": settings.processed_bucket,
        "output_key": output_key,
    }


def retract(file: FileRef, output_key: str) -> bool:
    """Remove the output of `file` unless the ledger shows this execution committed it; True if it did.

    The output is left alone when a later attempt owns the item: a retract delayed by its retries must
    not take away what that attempt committed.
    """
    rt = runtime()
    item = rt.ledger.get(file.file_id)
    if item is not None and item.get("execution") != file.execution:
        logger.info("a later attempt owns the version; its output is left as it is")
        return False
    if item is not None and item.get("status") == statuses.COMPLETED:
        return True
    rt.s3.delete_object(Bucket=rt.settings.processed_bucket, Key=output_key)
    logger.warning("uncommitted output removed", extra={"output_key": output_key})
    return False


def _committed_after_all(file: FileRef, output_key: str) -> bool:
    """After a failure of the write or the commit: True if COMPLETED was recorded; else the output is retracted."""
    try:
        return retract(file, output_key)
    except Exception:  # the ledger or S3 unreachable: the failure path's retract settles it
        logger.exception("could not tell whether the output was committed; left to the failure path")
        return False
