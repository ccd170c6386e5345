"""Backfill: one attempt for each object version of the raw bucket that the ledger does not know.

Versions are listed with ListObjectVersions under a prefix, filtered by the pipeline's suffixes
(and `since`), looked up in the ledger 100 at a time (BatchGetItem), and each unknown one starts
the data path with the input the rule would give it. The execution is named after the version, so
Step Functions refuses a second start of it (a STANDARD machine), and the ledger's RECEIVED
condition makes any second execution a repeat delivery: run it twice, and nothing runs twice.
A checkpoint file, when given, records the last listing position: an interrupted run resumes there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ..patterns import encoded_prefix
from .locate import PipelineResources

_BATCH = 100  # BatchGetItem's limit


@dataclass
class BackfillResult:
    """What a backfill found and did.

    Attributes:
        listed: object versions listed under the prefix (delete markers aside).
        eligible: those with an accepted suffix, under the input prefix, modified at or after `since`.
        known: eligible versions the ledger already has.
        started: executions started, one per unknown version.
        already_started: unknown versions whose execution exists already (a run interrupted after
            starting it, or a second backfill at once).
        would_start: in a dry run, what would be started.
        file_ids: the unknown versions' ledger keys, in listing order.
    """

    listed: int = 0
    eligible: int = 0
    known: int = 0
    started: int = 0
    already_started: int = 0
    would_start: int = 0
    file_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready values."""
        return asdict(self)


def execution_name(file_id: str) -> str:
    """The one execution a backfill starts for a version."""
    return f"backfill-{hashlib.sha256(file_id.encode()).hexdigest()[:64]}"


def backfill(
    s3: Any,
    dynamodb: Any,
    stepfunctions: Any,
    resources: PipelineResources,
    prefix: str | None = None,
    since: str | None = None,
    dry_run: bool = False,
    rate: float | None = 20.0,
    checkpoint: Path | None = None,
    progress: Callable[[BackfillResult], None] | None = None,
    page_size: int = 1000,
) -> BackfillResult:
    """Start the data path for every eligible object version with no ledger item.

    Args:
        prefix: where to look, under the input prefix. Default: the input prefix.
        since: only versions last modified at or after this ISO 8601 time. Default: all.
        dry_run: count and list, start nothing.
        rate: executions started per second at most (Step Functions' StartExecution quota is
            shared with the pipeline's own starts); None for no limit. Default: 20.
        checkpoint: a file recording where the listing got to; a run given the same file resumes there.
        progress: called with the result so far after each page of the listing.
        page_size: object versions per ListObjectVersions page (at most 1,000). Default: 1,000.
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be above 0")
    head = resources.input_prefix if prefix is None else prefix
    if not head.startswith(resources.input_prefix):
        raise ValueError(f"prefix {head!r} is outside the pipeline's input prefix {resources.input_prefix!r}")
    result = BackfillResult()
    pause = 0.0 if rate is None else 1.0 / rate
    accepted = tuple(x.lower() for x in resources.suffixes)
    marker = _read_checkpoint(checkpoint, head)
    start = {"KeyMarker": marker[0], "VersionIdMarker": marker[1]} if marker else {}
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=resources.raw_bucket, Prefix=head, PaginationConfig={"PageSize": page_size}, **start
    )
    for page in pages:
        eligible = []
        for version in page.get("Versions", []):
            result.listed += 1
            modified = version["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            if not version["Key"].lower().endswith(accepted) or (since is not None and modified < since):
                continue
            key, version_id = encoded_prefix(version["Key"]), version.get("VersionId") or "null"
            eligible.append((f"s3://{resources.raw_bucket}/{key}?versionId={version_id}", key, version_id))
        result.eligible += len(eligible)
        for first in range(0, len(eligible), _BATCH):
            _handle(dynamodb, stepfunctions, resources, eligible[first : first + _BATCH], dry_run, pause, result)
        if not dry_run:  # the page is handled: a run interrupted from here resumes after it
            following = (page.get("NextKeyMarker", ""), page.get("NextVersionIdMarker", ""))
            _write_checkpoint(checkpoint, head, following if page.get("IsTruncated") else None)
        if progress is not None:
            progress(result)
    return result


def _handle(
    dynamodb: Any,
    stepfunctions: Any,
    resources: PipelineResources,
    batch: list[tuple[str, str, str]],
    dry_run: bool,
    pause: float,
    result: BackfillResult,
) -> None:
    if not batch:
        return
    known = _known(dynamodb, resources.table, [file_id for file_id, _, _ in batch])
    for file_id, key, version in batch:
        if file_id in known:
            result.known += 1
            continue
        result.file_ids.append(file_id)
        if dry_run:
            result.would_start += 1
            continue
        request = {"bucket": resources.raw_bucket, "key": key, "version": version}
        try:
            stepfunctions.start_execution(
                stateMachineArn=resources.state_machine, name=execution_name(file_id), input=json.dumps(request)
            )
            result.started += 1
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            result.already_started += 1
        if pause:
            time.sleep(pause)


def _known(dynamodb: Any, table: str, file_ids: list[str]) -> set[str]:
    """Those of `file_ids` the ledger has (BatchGetItem, unprocessed keys asked again)."""
    found: set[str] = set()
    request = {
        table: {"Keys": [{"file_id": {"S": f}} for f in dict.fromkeys(file_ids)], "ProjectionExpression": "file_id"}
    }
    while request:
        answer = dynamodb.batch_get_item(RequestItems=request)
        found |= {item["file_id"]["S"] for item in answer.get("Responses", {}).get(table, [])}
        request = answer.get("UnprocessedKeys") or {}
        if request:
            time.sleep(0.1)
    return found


def _read_checkpoint(path: Path | None, prefix: str) -> tuple[str, str] | None:
    if path is None or not path.is_file():
        return None
    saved = json.loads(path.read_text())
    if saved.get("prefix") != prefix or saved.get("done") or not saved.get("key_marker"):
        return None
    return saved["key_marker"], saved["version_marker"]


def _write_checkpoint(path: Path | None, prefix: str, following: tuple[str, str] | None) -> None:
    """Record where the listing resumes (`following`), or that it is done (None)."""
    if path is None:
        return
    key_marker, version_marker = following or ("", "")
    state = {"prefix": prefix, "key_marker": key_marker, "version_marker": version_marker, "done": following is None}
    path.write_text(json.dumps(state))
