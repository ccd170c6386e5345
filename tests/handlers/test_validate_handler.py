"""The validate function against moto: statuses, counts, quarantine, repeat delivery."""

from __future__ import annotations

import json

import pytest

from etl_handlers import validate_handler
from etl_handlers.ledger import StatusConflict

GOOD = b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01,a\nt2,2.50,2024-01-02,b\n"
BAD = b"transaction_id,amount,date,account_id\nt1,1.00,2024-02-30,a\nt1,x,2024-01-02,b\n"


def test_a_good_file_is_recorded_validated_with_counts(aws, context):
    event = aws.put("in/good.csv", GOOD)
    result = validate_handler.handler(event, context)
    assert result["status"] == "VALIDATED"
    item = aws.item(event["file_id"])
    assert (item["status"], item["rows_total"], item["rows_valid"], item["rows_rejected"]) == (
        "VALIDATED",
        "2",
        "2",
        "0",
    )
    assert item["validated_at"].endswith("Z")


def test_a_bad_file_is_quarantined_byte_for_byte_with_a_report(aws, context):
    event = aws.put("in/bad.csv", BAD)
    result = validate_handler.handler(event, context)
    assert result["status"] == "VALIDATION_FAILED"
    key = f"quarantine/{event['version']}/in/bad.csv"
    assert aws.keys("quarantine") == [key, key + ".errors.json"]
    assert aws.body("quarantine", key) == BAD
    report = json.loads(aws.body("quarantine", key + ".errors.json"))
    assert report["error_count"] == 3
    assert report["errors"][0] == {"row": 1, "field": "date", "message": "is not a real calendar day"}
    assert report["file"] == {"bucket": "raw", "key": "in/bad.csv", "version": event["version"]}


def test_a_bad_file_leaves_a_final_status_with_its_error(aws, context):
    event = aws.put("in/bad.csv", BAD)
    validate_handler.handler(event, context)
    item = aws.item(event["file_id"])
    assert item["status"] == "VALIDATION_FAILED"
    assert item["error"] == "row 1 date: is not a real calendar day"
    assert item["error_count"] == "3"
    assert item["quarantine_key"] == f"quarantine/{event['version']}/in/bad.csv"


def test_the_original_object_stays_where_it_landed(aws, context):
    event = aws.put("in/bad.csv", BAD)
    validate_handler.handler(event, context)
    assert aws.body("raw", "in/bad.csv") == BAD


def test_an_unsupported_suffix_is_rejected_as_unsupported_format(aws, context):
    event = aws.put("in/notes.txt", b"hello")
    result = validate_handler.handler(event, context)
    assert result["status"] == "VALIDATION_FAILED"
    assert aws.item(event["file_id"])["error"] == "unsupported format"


def test_another_execution_cannot_move_the_item(aws, context):
    event = aws.put("in/good.csv", GOOD)
    with pytest.raises(StatusConflict):
        validate_handler.handler({**event, "execution": "arn:other"}, context)
    assert aws.item(event["file_id"])["status"] == "RECEIVED"


def test_a_retried_step_returns_what_it_recorded_without_redoing_it(aws, context):
    event = aws.put("in/good.csv", GOOD)
    first = validate_handler.handler(event, context)
    again = validate_handler.handler(event, context)
    assert again["status"] == first["status"] == "VALIDATED"
    assert aws.item(event["file_id"])["status"] == "VALIDATED"


def test_the_version_delivered_is_the_one_read_and_quarantined(aws, context):
    event = aws.put("in/x.csv", BAD)
    aws.s3.put_object(Bucket="raw", Key="in/x.csv", Body=GOOD)  # a newer version lands meanwhile
    assert validate_handler.handler(event, context)["status"] == "VALIDATION_FAILED"
    assert aws.body("quarantine", f"quarantine/{event['version']}/in/x.csv") == BAD
