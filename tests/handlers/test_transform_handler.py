"""The transform function against moto: output published whole or not at all."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from etl_handlers import s3io, transform_handler, validate_handler
from etl_handlers.ledger import StatusConflict
from etl_handlers.runtime import TransientError, runtime

GOOD = b"transaction_id,amount,date,account_id\nt1,125.50,2024-01-01,a\nt2,-12.50,2024-01-02,b\n"


def _validated(aws, context, key: str = "in/good.csv", body: bytes = GOOD) -> dict:
    event = aws.put(key, body)
    assert validate_handler.handler(event, context)["status"] == "VALIDATED"
    return event


def _fail(operation: str, code: str = "InternalError", status: int = 500, times: int = 1_000):
    left = {"n": times}

    def hook(**_: object) -> None:
        if left["n"] > 0:
            left["n"] -= 1
            raise ClientError(
                {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                operation,
            )

    return hook


def test_a_validated_file_is_completed_with_its_output(aws, context):
    event = _validated(aws, context)
    result = transform_handler.handler(event, context)
    key = f"processed/in/good.csv.{event['version']}.jsonl"
    assert result == {
        "status": "COMPLETED",
        "rows_total": 2,
        "rows_written": 2,
        "output_bucket": "processed",
        "output_key": key,
    }
    rows = [json.loads(line, parse_float=Decimal) for line in aws.body("processed", key).decode().splitlines()]
    assert [r["fee"] for r in rows] == [Decimal("1.26"), Decimal("-0.13")]
    item = aws.item(event["file_id"])
    assert (item["status"], item["output_key"], item["rows_written"]) == ("COMPLETED", key, "2")


def test_the_output_is_written_straight_to_its_final_key(aws, context):
    writes = []
    runtime().s3.meta.events.register("before-call.s3.*", lambda event_name, **_: writes.append(event_name))
    transform_handler.handler(_validated(aws, context), context)
    keys = aws.keys("processed")
    assert keys and all(k.startswith("processed/") for k in keys)  # nothing under the staging prefix
    assert not [w for w in writes if w.endswith((".CopyObject", ".DeleteObject"))]  # nothing staged, copied, dropped


def test_a_failed_write_leaves_no_visible_output(aws, context):
    event = _validated(aws, context)
    runtime().s3.meta.events.register("before-call.s3.PutObject", _fail("PutObject"))
    with pytest.raises(TransientError):
        transform_handler.handler(event, context)
    assert [k for k in aws.keys("processed") if k.startswith("processed/")] == []
    assert aws.item(event["file_id"])["status"] == "TRANSFORMING"  # the state machine's catch settles it


def test_a_ledger_failure_after_publishing_withdraws_the_output(aws, context):
    event = _validated(aws, context)
    ddb = runtime().ledger._client
    calls = {"n": 0}

    def fail_second_update(**_: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the first moves to TRANSFORMING, the second would record COMPLETED
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "UpdateItem")

    ddb.meta.events.register("before-call.dynamodb.UpdateItem", fail_second_update)
    with pytest.raises(TransientError):
        transform_handler.handler(event, context)
    assert [k for k in aws.keys("processed") if k.startswith("processed/")] == []


def test_a_retry_after_a_transient_fault_completes_and_overwrites(aws, context):
    event = _validated(aws, context)
    runtime().s3.meta.events.register("before-call.s3.PutObject", _fail("PutObject", times=1))
    with pytest.raises(TransientError):
        transform_handler.handler(event, context)
    assert transform_handler.handler(event, context)["status"] == "COMPLETED"
    assert [k for k in aws.keys("processed") if k.startswith("processed/")] == [
        f"processed/in/good.csv.{event['version']}.jsonl"
    ]


def test_a_file_that_was_not_validated_is_not_transformed(aws, context):
    event = aws.put("in/good.csv", GOOD)
    with pytest.raises(StatusConflict):
        transform_handler.handler(event, context)
    assert aws.keys("processed") == []


def test_large_output_goes_up_in_parts(aws, context, monkeypatch):
    monkeypatch.setattr(s3io, "PART_SIZE", 5 * 1024 * 1024)
    rows = b"".join(b"t%d,%d.25,2024-01-01,acct-%d,USD,%s\n" % (i, i, i, b"x" * 60) for i in range(120_000))
    event = _validated(aws, context, "in/big.csv", b"transaction_id,amount,date,account_id,currency,memo\n" + rows)
    uploads = []
    runtime().s3.meta.events.register("before-call.s3.UploadPart", lambda **kw: uploads.append(1))
    result = transform_handler.handler(event, context)
    assert result["rows_written"] == 120_000
    assert len(uploads) >= 2
    body = aws.body("processed", result["output_key"])
    assert body.count(b"\n") == 120_000
