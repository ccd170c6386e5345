"""Read the ledger: items by status and time through the status index, one file's history of attempts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..statuses import ALL, STATUS_INDEX

#: The file under run-local's `--out` holding the ledger's items after a run (`ledger list/show --out`).
LEDGER_SNAPSHOT = "ledger.json"
#: The columns `table_text` shows, in order.
COLUMNS = ("status", "updated_at", "attempt", "rows_total", "rows_rejected", "key", "version", "error")


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (`{"S": ...}`, `{"N": ...}`, lists and maps) as plain JSON values."""
    return {name: _plain(value) for name, value in item.items()}


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "M":
        return plain(inner)
    return inner


def list_items(
    dynamodb: Any,
    table: str,
    statuses: Sequence[str] = (),
    since: str | None = None,
    prefix: str | None = None,
) -> list[dict[str, Any]]:
    """The ledger's items in `statuses` (default: every status) updated at or after `since` (an ISO 8601
    UTC time such as `2024-03-01T00:00:00Z`), whose key starts with `prefix`, newest first.

    Reads the status index, one query per status; never scans the table.
    """
    unknown = sorted(set(statuses) - set(ALL))
    if unknown:
        raise ValueError(f"unknown status {', '.join(unknown)}; the statuses are {', '.join(ALL)}")
    found = [item for status in statuses or ALL for item in _query(dynamodb, table, status, since, prefix)]
    return sorted(found, key=lambda item: str(item.get("updated_at", "")), reverse=True)


def _query(dynamodb: Any, table: str, status: str, since: str | None, prefix: str | None) -> Iterator[dict[str, Any]]:
    condition = "#status = :status"
    values: dict[str, Any] = {":status": {"S": status}}
    names = {"#status": "status"}
    if since:
        condition += " AND updated_at >= :since"
        values[":since"] = {"S": since}
    extra: dict[str, Any] = {}
    if prefix:
        extra = {"FilterExpression": "begins_with(#key, :prefix)"}
        names["#key"] = "key"
        values[":prefix"] = {"S": prefix}
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=STATUS_INDEX,
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        **extra,
    )
    for page in pages:
        yield from (plain(item) for item in page.get("Items", []))


def get_item(dynamodb: Any, table: str, file_id: str) -> dict[str, Any] | None:
    """One file version's item, read consistently, or None."""
    item = dynamodb.get_item(TableName=table, Key={"file_id": {"S": file_id}}, ConsistentRead=True).get("Item")
    return None if item is None else plain(item)


def attempts(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Every attempt of a file version, first to last: the earlier ones from its `history`, then the current."""
    current = {k: v for k, v in item.items() if k not in ("history",)}
    current.setdefault("attempt", 1)
    earlier = [dict(a, attempt=a.get("attempt", i + 1)) for i, a in enumerate(item.get("history") or [])]
    return [*earlier, current]


def table_text(items: Iterable[dict[str, Any]]) -> str:
    """Items as an aligned text table, one line each (the version id shortened to 12 characters)."""
    rows = [list(COLUMNS)]
    for item in items:
        row = []
        for column in COLUMNS:
            value = item.get(column, "")
            text = "" if value is None else str(value)
            if column == "version" and len(text) > 12:
                text = text[:12]
            if column == "error" and len(text) > 60:
                text = text[:57] + "..."
            row.append(text)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]]) + "\n"


def show_text(item: dict[str, Any]) -> str:
    """One file version's whole history, attempt by attempt, as text."""
    head = [f"file_id   {item['file_id']}", f"bucket    {item.get('bucket', '')}", f"key       {item.get('key', '')}"]
    head += [f"version   {item.get('version', '')}", f"status    {item.get('status', '')}"]
    if item.get("repeat_deliveries"):
        head.append(f"repeated deliveries  {item['repeat_deliveries']} (last {item.get('last_repeat_at', '')})")
    lines = ["\n".join(head), ""]
    for attempt in attempts(item):
        lines.append(f"attempt {attempt['attempt']}: {attempt.get('status', '')}")
        for name in sorted(attempt):
            if name in ("attempt", "status", "file_id", "bucket", "key", "version", "repeat_deliveries"):
                continue
            if name.startswith("last_repeat"):
                continue
            value = attempt[name]
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            lines.append(f"  {name:<24} {text}")
        lines.append("")
    return "\n".join(lines)
