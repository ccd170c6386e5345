"""The processing ledger: one DynamoDB item per object version, moved by conditional writes only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from . import statuses


class StatusConflict(Exception):
    """The item was not in a status this step may move it from: another run owns it or it is final."""


def now() -> str:
    """The current UTC time as Step Functions writes `$$.State.EnteredTime`: `2024-03-01T12:00:00.123Z`."""
    return stamp(datetime.now(UTC))


def stamp(moment: datetime) -> str:
    """`moment` as Step Functions writes `$$.State.EnteredTime`: `2024-03-01T12:00:00.123Z`.

    One form for the stamps the functions and the state machine write, so they sort as times.
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


class Ledger:
    """Status transitions on the ledger table, each conditional on the expected prior status."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def transition(
        self,
        file_id: str,
        execution: str,
        allowed_from: tuple[str, ...],
        to: str,
        **attributes: Any,
    ) -> None:
        """Move `file_id` to `to` if it is in one of `allowed_from` and owned by `execution`.

        A step retried within the same execution may repeat its own transition; a second execution
        for the same object version (a repeated delivery) never gets past its first write.

        A write this execution already made counts as made: when DynamoDB applied the update and its
        reply was lost, the SDK's retry (or the state machine's) finds the item already in `to` for
        this execution and fails its condition. That is this call's own write, not a conflict.
        """
        stamp = now()
        values: dict[str, Any] = {":to": {"S": to}, ":now": {"S": stamp}, ":exec": {"S": execution}}
        names = {
            "#status": "status",
            "#execution": "execution",
            "#updated": "updated_at",
            "#at": f"{to.lower()}_at",
        }
        sets = ["#status = :to", "#updated = :now", "#at = :now"]
        for index, (name, value) in enumerate(sorted(attributes.items())):
            names[f"#a{index}"] = name
            values[f":a{index}"] = _attribute(value)
            sets.append(f"#a{index} = :a{index}")
        allowed = []
        for index, status in enumerate(allowed_from):
            values[f":from{index}"] = {"S": status}
            allowed.append(f":from{index}")
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"file_id": {"S": file_id}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"#status IN ({', '.join(allowed)}) AND #execution = :exec",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                if self.finished_by(file_id, execution, (to,)) is not None:
                    return
                raise StatusConflict(
                    f"{file_id} is not in {'/'.join(allowed_from)} for execution {execution}; not moved to {to}"
                ) from exc
            raise

    def count_control_check(self, file_id: str, execution: str) -> int:
        """Count one more look for the file's control record, while this execution validates it; return the count.

        A reply lost after DynamoDB applied the update and retried by the SDK counts one look twice:
        the wait then ends an interval early, never late.
        """
        try:
            reply = self._client.update_item(
                TableName=self._table,
                Key={"file_id": {"S": file_id}},
                UpdateExpression="ADD control_checks :one",
                ConditionExpression="#status = :validating AND #execution = :exec",
                ExpressionAttributeNames={"#status": "status", "#execution": "execution"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":validating": {"S": statuses.VALIDATING},
                    ":exec": {"S": execution},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StatusConflict(f"{file_id} is not VALIDATING for execution {execution}") from exc
            raise
        return int(reply["Attributes"]["control_checks"]["N"])

    def finished_by(self, file_id: str, execution: str, outcomes: tuple[str, ...]) -> dict[str, Any] | None:
        """The item when `execution` itself already moved it to one of `outcomes` (a retried step), else None."""
        item = self.get(file_id)
        if item is not None and item.get("execution") == execution and item.get("status") in outcomes:
            return item
        return None

    def get(self, file_id: str) -> dict[str, Any] | None:
        """The item as plain values, or None."""
        item = self._client.get_item(TableName=self._table, Key={"file_id": {"S": file_id}}, ConsistentRead=True)
        raw = item.get("Item")
        return None if raw is None else {k: _plain(v) for k, v in raw.items()}


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    return {"S": str(value)}


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else inner
    if kind == "NULL":
        return None
    return inner


__all__ = ["Ledger", "StatusConflict", "now", "statuses"]
