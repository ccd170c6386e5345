"""The ledger's status vocabulary, as the functions import it; defined once in `core.statuses`."""

from .core.statuses import (
    ALL,
    COMPLETED,
    FINAL,
    IN_PROGRESS,
    RECEIVED,
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
    "TRANSFORMATION_FAILED",
    "TRANSFORMING",
    "VALIDATED",
    "VALIDATING",
    "VALIDATION_FAILED",
]
