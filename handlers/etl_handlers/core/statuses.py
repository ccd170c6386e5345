"""The ledger's status vocabulary (data contract), in the one place both the functions and the constructs read it."""

RECEIVED = "RECEIVED"
VALIDATING = "VALIDATING"
VALIDATED = "VALIDATED"
TRANSFORMING = "TRANSFORMING"
COMPLETED = "COMPLETED"
VALIDATION_FAILED = "VALIDATION_FAILED"
TRANSFORMATION_FAILED = "TRANSFORMATION_FAILED"
#: Throttled past its budget: the functions had no room for the file. Neither in progress nor final: the
#: sweep resumes its attempt (`reprocess: deferred`), so a burst waits and never fails a file.
DEFERRED = "DEFERRED"

#: Statuses an item ends in; every execution leaves its item in one of them.
FINAL = (COMPLETED, VALIDATION_FAILED, TRANSFORMATION_FAILED)
#: Statuses an item passes through while an execution runs.
IN_PROGRESS = (RECEIVED, VALIDATING, VALIDATED, TRANSFORMING)
#: Every status, in the order of the happy path, then the failures, then DEFERRED.
ALL = (*IN_PROGRESS, COMPLETED, VALIDATION_FAILED, TRANSFORMATION_FAILED, DEFERRED)

#: The ledger's status index: status, then updated_at ("which files ended in STATUS since T").
STATUS_INDEX = "status-updated_at-index"

#: The data path's input field asking for a new attempt of a version the ledger knows, and its values:
#: run a failed version again, or any final one (COMPLETED too), or a DEFERRED one (as the sweep does).
REPROCESS = "reprocess"
REPROCESS_FAILED = "failed"
REPROCESS_ANY = "any"
REPROCESS_DEFERRED = "deferred"

__all__ = [
    "ALL",
    "COMPLETED",
    "DEFERRED",
    "FINAL",
    "IN_PROGRESS",
    "RECEIVED",
    "REPROCESS",
    "REPROCESS_ANY",
    "REPROCESS_DEFERRED",
    "REPROCESS_FAILED",
    "STATUS_INDEX",
    "TRANSFORMATION_FAILED",
    "TRANSFORMING",
    "VALIDATED",
    "VALIDATING",
    "VALIDATION_FAILED",
]
