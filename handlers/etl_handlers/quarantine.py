"""Quarantine: a byte-identical copy of a rejected object version and a JSON error report beside it."""

from __future__ import annotations

import json
from typing import Any

from .core.results import RowError
from .ledger import now
from .s3io import version_args
from .settings import REPORT_SUFFIX


def quarantine(
    s3: Any,
    source: dict[str, str],
    bucket: str,
    key: str,
    errors: list[RowError],
    error_count: int,
    counts: dict[str, int],
    status: str | None = None,
) -> str:
    """Copy the object version to `bucket`/`key`, write `key`.errors.json, and return `key`.

    `source` names the object by its real (decoded) key. `status`, when given, is recorded in
    the report (the final status of a file quarantined by a fault). Both writes overwrite, so a
    retry leaves the same copy and report.
    """
    copy_source = {"Bucket": source["bucket"], "Key": source["key"], **version_args(source.get("version"))}
    s3.copy(copy_source, bucket, key)
    report = {
        "file": source,
        **({"status": status} if status is not None else {}),
        "rejected_at": now(),
        "error_count": error_count,
        "errors_listed": len(errors),
        "errors": [e.to_dict() for e in errors],
        **counts,
    }
    s3.put_object(
        Bucket=bucket,
        Key=f"{key}{REPORT_SUFFIX}",
        Body=json.dumps(report, indent=2).encode("utf-8"),
        ContentType="application/json",
    )
    return key
