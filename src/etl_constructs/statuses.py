"""The ledger's status vocabulary: the handlers' core defines it (`etl_handlers.core.statuses`); the constructs
read it from there."""

from etl_handlers.core.statuses import (
    ALL,
    COMPLETED,
    FINAL,
    IN_PROGRESS,
    RECEIVED,
    REPROCESS,
    REPROCESS_ANY,
    REPROCESS_FAILED,
    STATUS_INDEX,
    TRANSFORMATION_FAILED,
    TRANSFORMING,
    VALIDATED,
    VALIDATING,
    VALIDATION_FAILED,
)

__all__ = [
    "ALL",
    "COMPLETED",
    "FINAL",
    "IN_PROGRESS",
    "RECEIVED",
    "REPROCESS",
    "REPROCESS_ANY",
    "REPROCESS_FAILED",
    "STATUS_INDEX",
    "TRANSFORMATION_FAILED",
    "TRANSFORMING",
    "VALIDATED",
    "VALIDATING",
    "VALIDATION_FAILED",
]
