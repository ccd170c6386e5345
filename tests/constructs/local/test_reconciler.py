"""The reconciler's real definition settles the item of an execution that timed out or was aborted.

moto emits no Step Functions status-change events, so the test gives the reconciler the event
EventBridge would send, after leaving an item where a dead execution would leave it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from etl_constructs.local import LocalPipeline

BODY = b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01,a\n"


def _event(local: LocalPipeline, upload, execution: str, status: str) -> dict:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": execution,
            "stateMachineArn": local.pipeline.state_machine_arn,
            "status": status,
            "input": json.dumps({"bucket": local.pipeline.raw_bucket, "key": upload.key, "version": upload.version}),
        },
    }


def _reconciler(local: LocalPipeline) -> str:
    (rule,) = [r for r in local.pipeline.other_rules if "aws.states" in r.pattern.get("source", [])]
    assert rule.pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    return rule.state_machine_arn


def _leave_item(local: LocalPipeline, upload, status: str, execution: str) -> str:
    file_id = local.file_id(upload)
    local.clients["dynamodb"].put_item(
        TableName=local.pipeline.table,
        Item={"file_id": {"S": file_id}, "status": {"S": status}, "execution": {"S": execution}},
    )
    return file_id


@contextmanager
def _uploaded(template: Path, tmp_path: Path, key: str = "a.csv") -> Iterator[tuple[LocalPipeline, Any]]:
    """A local pipeline with BODY uploaded as `key` (its execution not yet run), and the upload."""
    source = tmp_path / "a.csv"
    source.write_bytes(BODY)
    with LocalPipeline(template, out=tmp_path / "out") as local:
        yield local, local.upload(source, key)


def _settle(local: LocalPipeline, event: dict) -> None:
    sfn = local.clients["stepfunctions"]
    arn = sfn.start_execution(stateMachineArn=_reconciler(local), input=json.dumps(event))["executionArn"]
    assert local.wait([arn]) == {arn: "SUCCEEDED"}


@pytest.mark.parametrize(
    ("stuck_in", "settled_as"),
    [("VALIDATING", "VALIDATION_FAILED"), ("RECEIVED", "VALIDATION_FAILED"), ("TRANSFORMING", "TRANSFORMATION_FAILED")],
)
def test_a_timed_out_execution_leaves_a_final_status_and_a_quarantine_copy(
    default_template_path, tmp_path, stuck_in, settled_as
):
    with _uploaded(default_template_path, tmp_path, "late/a.csv") as (local, upload):
        local.matched_events()  # this delivery's execution is the one that "died"
        execution = "arn:aws:states:us-east-1:123456789012:execution:main:dead"
        file_id = _leave_item(local, upload, stuck_in, execution)
        _settle(local, _event(local, upload, execution, "TIMED_OUT"))
        item = local.ledger_item(file_id)
        copy = (
            local.clients["s3"]
            .get_object(Bucket=local.pipeline.quarantine_bucket, Key=f"quarantine/{upload.version}/late/a.csv")["Body"]
            .read()
        )
    assert item["status"] == settled_as
    assert item["error"] == "ExecutionTIMED_OUT"
    assert "TIMED_OUT" in item["cause"]
    assert copy == BODY


def test_a_final_status_is_never_overwritten(default_template_path, tmp_path):
    with _uploaded(default_template_path, tmp_path) as (local, upload):
        execution = "arn:aws:states:us-east-1:123456789012:execution:main:done"
        file_id = _leave_item(local, upload, "COMPLETED", execution)
        _settle(local, _event(local, upload, execution, "ABORTED"))
        assert local.ledger_item(file_id)["status"] == "COMPLETED"


def test_another_executions_item_is_left_alone(default_template_path, tmp_path):
    with _uploaded(default_template_path, tmp_path) as (local, upload):
        file_id = _leave_item(local, upload, "VALIDATING", "arn:aws:states:us-east-1:123456789012:execution:main:owner")
        _settle(local, _event(local, upload, "arn:aws:states:us-east-1:123456789012:execution:main:other", "ABORTED"))
        assert local.ledger_item(file_id)["status"] == "VALIDATING"


@pytest.mark.parametrize(
    ("named", "error", "cause"),
    [
        ({"error": "States.Runtime", "cause": "An error occurred while executing the state 'Validate'"}, None, None),
        ({"error": None, "cause": None}, "ExecutionFAILED", "the execution ended FAILED before a final status"),
        ({"error": "States.Runtime", "cause": None}, None, "the execution ended FAILED with no cause"),
    ],
    ids=["named", "null", "no-cause"],
)
def test_a_failed_executions_own_error_and_cause_are_recorded(default_template_path, tmp_path, named, error, cause):
    """AWS's status-change event names a failed execution's error and cause: the ledger keeps them."""
    with _uploaded(default_template_path, tmp_path) as (local, upload):
        execution = "arn:aws:states:us-east-1:123456789012:execution:main:failed"
        file_id = _leave_item(local, upload, "VALIDATING", execution)
        event = _event(local, upload, execution, "FAILED")
        event["detail"].update(named)
        _settle(local, event)
        item = local.ledger_item(file_id)
    assert item["status"] == "VALIDATION_FAILED"
    assert (item["error"], item["cause"]) == (error or named["error"], cause or named["cause"])
