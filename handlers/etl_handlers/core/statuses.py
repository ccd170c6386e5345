"""The ledger's status vocabulary (data contract), in the one place both the functions and the constructs read it."""

RECEIVED = "RECEIVED"
VALIDATING = "VALIDATING"
VALIDATED = "VALIDATED"
TRANSFORMING = "TRANSFORMING"
COMPLETED = "COMPLETED"
VALIDATION_FAILED = "VALIDATION_FAILED"
TRANSFORMATION_FAILED = "TRANSFORMATION_FAILED"

#: Statuses an item ends in; every execution leaves its item in one of them.
FINAL = (COMPLETED, VALIDATION_FAILED, TRANSFORMATION_FAILED)
#: Statuses an item passes through while an execution runs.
IN_PROGRESS = (RECEIVED, VALIDATING, VALIDATED, TRANSFORMING)
#: Every status, in the order of the happy path, then the failures.
ALL = (*IN_PROGRESS, COMPLETED, VALIDATION_FAILED, TRANSFORMATION_FAILED)

#: The ledger's status index: status, then updated_at ("which files ended in STATUS since T").
STATUS_INDEX = "status-updated_at-index"

#: The data path's input field asking for a new attempt of a version the ledger knows, and its values:
#: run a failed version again, or any final one (COMPLETED too).
REPROCESS = "reprocess"
REPROCESS_FAILED = "failed"
REPROCESS_ANY = "any"

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
