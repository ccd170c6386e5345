"""Run known file versions again: each run is a new attempt, begun by the state machine itself.

The request is an execution of the data path with the input
`{"bucket", "key", "version", "reprocess": "failed" | "any" | "deferred"}`. The state machine moves the
item's last attempt into its `history` and begins the next one in a single conditional write, so of two
requests for the same version exactly one begins an attempt, and a version in progress is never
taken over. A DEFERRED version (throttled past its budget) resumes its attempt instead, in the same kind
of write. Step Functions' own redrive replays a failed execution with the rules it had; a new
attempt runs the rules the pipeline has now, and so can follow a rules change.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from .. import statuses
from .ledger_view import get_item
from .locate import PipelineResources


@dataclass(frozen=True)
class ReprocessResult:
    """What a request did for one file version.

    Attributes:
        file_id: the version's ledger key.
        outcome: "started", "would start" (a dry run), "already started" (this attempt's execution
            exists: another operator asked first), or "skipped".
        reason: why it was skipped. Default: "".
        attempt: the attempt it begins. Default: none.
        execution: the execution's ARN (or its name, in a dry run). Default: none.
    """

    file_id: str
    outcome: str
    reason: str = ""
    attempt: int | None = None
    execution: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready values."""
        return asdict(self)


def execution_name(file_id: str, attempt: int) -> str:
    """A name for the execution asking for `attempt` of `file_id`: the version and attempt, then a nonce.

    The nonce keeps a request that ended before it began its attempt (aborted, say) from holding the
    name for Step Functions' 90 days. Exactly one attempt begins however many executions ask: the
    state machine's conditional write decides.
    """
    return f"reprocess-{hashlib.sha256(file_id.encode()).hexdigest()[:32]}-{attempt}-{uuid.uuid4().hex[:12]}"


def reprocess(
    dynamodb: Any,
    stepfunctions: Any,
    resources: PipelineResources,
    file_ids: Sequence[str],
    force: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[ReprocessResult]:
    """Ask for a new attempt of each version: a failed one (VALIDATION_FAILED, TRANSFORMATION_FAILED) or a
    DEFERRED one, or, with `force`, a COMPLETED one too. A version in progress or unknown is skipped, with
    the reason."""
    results = []
    for done, file_id in enumerate(file_ids, start=1):
        results.append(_one(dynamodb, stepfunctions, resources, file_id, force, dry_run))
        if progress is not None:
            progress(done)
    return results


def _one(
    dynamodb: Any, stepfunctions: Any, resources: PipelineResources, file_id: str, force: bool, dry_run: bool
) -> ReprocessResult:
    item = get_item(dynamodb, resources.table, file_id)
    if item is None:
        return ReprocessResult(file_id, "skipped", "not in the ledger")
    status = str(item.get("status", ""))
    if status in statuses.IN_PROGRESS:
        return ReprocessResult(file_id, "skipped", f"in progress ({status}): wait for it to end")
    if status == statuses.COMPLETED and not force:
        return ReprocessResult(file_id, "skipped", "COMPLETED: give force (--force) to run it again")
    # A DEFERRED version goes on with its attempt; any other begins the next one.
    attempt = int(item.get("attempt", 1)) + (status != statuses.DEFERRED)
    name = execution_name(file_id, attempt)
    if dry_run:
        return ReprocessResult(file_id, "would start", attempt=attempt, execution=name)
    request = {
        "bucket": item["bucket"],
        "key": item["key"],
        "version": item["version"],
        statuses.REPROCESS: statuses.REPROCESS_ANY if force else statuses.REPROCESS_FAILED,
    }
    if status == statuses.DEFERRED:  # throttled past its budget: begun now rather than at the next sweep
        request[statuses.REPROCESS] = statuses.REPROCESS_DEFERRED
    try:
        started = stepfunctions.start_execution(
            stateMachineArn=resources.state_machine, name=name, input=json.dumps(request)
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return ReprocessResult(file_id, "already started", attempt=attempt, execution=name)
        raise
    return ReprocessResult(file_id, "started", attempt=attempt, execution=started["executionArn"])
