"""The transform function: stream a validated object version to JSON Lines, published only when complete."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import statuses
from .core import transform
from .ledger import StatusConflict
from .runtime import FileRef, entry_point, logger, metrics, runtime
from .s3io import MultipartWriter, open_version, publish


class DataChanged(Exception):
    """The object version no longer validates as it did: nothing is published."""


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Transform one validated object version; record COMPLETED with the output's location."""
    rt = runtime()
    settings = rt.settings
    file = FileRef.from_event(event)
    logger.append_keys(file_id=file.file_id)
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
    staging_key = f"{settings.staging_prefix}{output_key}"
    writer = MultipartWriter(rt.s3, settings.processed_bucket, staging_key)
    body = open_version(rt.s3, file.bucket, file.key, file.version)
    try:
        # A pinned version cannot change after validation; an unversioned object could.
        result = transform(body, writer, fmt, settings.config, already_validated=file.pinned)  # type: ignore[arg-type]
        if result.error_count:
            raise DataChanged(f"{result.error_count} errors on transform after a clean validation")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        body.close()
    published = False
    try:
        publish(rt.s3, settings.processed_bucket, staging_key, output_key)
        published = True
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
    except BaseException:
        # The ledger must never show a failure while a complete-looking output stands.
        if published:
            rt.s3.delete_object(Bucket=settings.processed_bucket, Key=output_key)
        raise
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
