"""The functions given the key as S3's event writes it (URL-encoded) act on the object's real key."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl_handlers import transform_handler, validate_handler
from etl_handlers.core import Config
from etl_handlers.core.keys import MAX_KEY_BYTES, event_key, utf8_head
from etl_handlers.settings import Settings

GOOD = b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01,a\nt2,2.50,2024-01-02,b\n"
BAD = b"transaction_id,amount,date,account_id\nt1,1.00,2024-02-30,a\n"
DECOY = b"transaction_id,amount,date,account_id\ndecoy,1.00,2024-01-01,a\n"

AWKWARD_KEYS = [
    "in/100% pure.csv",
    "in/a+b.csv",
    "in/what?.csv",
    "in/#1.csv",
    "in/k=v.csv",
    "in/with space.csv",
    "in/café.csv",
    "in/数据.csv",
]
#: A key of exactly 1,024 UTF-8 bytes, with two-byte characters in it. Few of them: the ledger's
#: `file_id` holds the key encoded (`é` is `%C3%A9`), and DynamoDB refuses a key over 2,048 bytes.
LONG_KEY = "in/" + "é" * 50 + "x" * (MAX_KEY_BYTES - 3 - 100 - 4) + ".csv"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _with_decoy(aws, key: str, body: bytes) -> dict:
    """Upload `body` under `key`, and another object under the encoded spelling, which must not be read."""
    event = aws.put(key, body)
    assert event["key"] == event_key(key)
    if event["key"] != key:
        aws.s3.put_object(Bucket="raw", Key=event["key"], Body=DECOY)
    return event


def test_the_long_key_is_exactly_the_limit():
    assert len(LONG_KEY.encode("utf-8")) == MAX_KEY_BYTES


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_a_good_file_under_an_awkward_key_is_validated_and_transformed(aws, context, key):
    event = _with_decoy(aws, key, GOOD)
    assert validate_handler.handler(event, context)["status"] == "VALIDATED"
    result = transform_handler.handler(event, context)
    assert result["output_key"] == f"processed/{key}.{event['version']}.jsonl"
    rows = [json.loads(line) for line in aws.body("processed", result["output_key"]).decode().splitlines()]
    assert [r["transaction_id"] for r in rows] == ["t1", "t2"]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_a_bad_file_under_an_awkward_key_is_quarantined_under_its_real_key(aws, context, key):
    event = _with_decoy(aws, key, BAD)
    assert validate_handler.handler(event, context)["status"] == "VALIDATION_FAILED"
    quarantined = f"quarantine/{event['version']}/{key}"
    assert aws.body("quarantine", quarantined) == BAD
    report = json.loads(aws.body("quarantine", quarantined + ".errors.json"))
    assert report["file"] == {"bucket": "raw", "key": key, "version": event["version"]}
    assert aws.item(event["file_id"])["quarantine_key"] == quarantined


def test_a_good_file_under_a_1024_byte_key_completes_with_an_output_key_within_the_limit(aws, context):
    event = aws.put(LONG_KEY, GOOD)
    validate_handler.handler(event, context)
    result = transform_handler.handler(event, context)
    assert result["status"] == "COMPLETED"
    assert len(f"_staging/{result['output_key']}".encode()) <= MAX_KEY_BYTES
    assert aws.body("processed", result["output_key"]).count(b"\n") == 2


def test_a_bad_file_under_a_1024_byte_key_is_quarantined_with_its_report(aws, context):
    event = aws.put(LONG_KEY, BAD)
    result = validate_handler.handler(event, context)
    assert result["status"] == "VALIDATION_FAILED"
    assert len((result["quarantine_key"] + ".errors.json").encode()) <= MAX_KEY_BYTES
    assert aws.body("quarantine", result["quarantine_key"]) == BAD
    assert json.loads(aws.body("quarantine", result["quarantine_key"] + ".errors.json"))["file"]["key"] == LONG_KEY


def _fault(event: dict, status: str = "TRANSFORMATION_FAILED") -> dict:
    return {
        **event,
        "action": "quarantine",
        "status": status,
        "failure": {"Error": "RuntimeError", "Cause": "the transform function is broken"},
    }


@pytest.mark.parametrize("key", ["in/a b+c%.csv", "in/数据 é?#=.csv", LONG_KEY])
def test_the_quarantine_action_copies_the_version_and_writes_the_fault_report(aws, context, key):
    event = _with_decoy(aws, key, GOOD)
    result = validate_handler.handler(_fault(event), context)
    assert result["quarantine_bucket"] == "quarantine"
    assert aws.keys("quarantine") == [result["quarantine_key"], result["quarantine_key"] + ".errors.json"]
    assert aws.body("quarantine", result["quarantine_key"]) == GOOD
    report = json.loads(aws.body("quarantine", result["quarantine_key"] + ".errors.json"))
    assert report["status"] == "TRANSFORMATION_FAILED"
    assert report["file"] == {"bucket": "raw", "key": key, "version": event["version"]}
    assert report["errors"] == [
        {"row": None, "field": None, "message": "RuntimeError: the transform function is broken"}
    ]
    assert TIMESTAMP.match(report["rejected_at"])


def test_the_quarantine_action_lays_out_keys_as_a_rejection_does(aws, context):
    event = aws.put("in/a b.csv", GOOD)
    result = validate_handler.handler(_fault(event, "VALIDATION_FAILED"), context)
    assert result["quarantine_key"] == f"quarantine/{event['version']}/in/a b.csv"


def test_the_quarantine_action_repeated_leaves_the_same_copy_and_report(aws, context):
    event = aws.put("in/a+b.csv", GOOD)
    first = validate_handler.handler(_fault(event), context)
    objects = aws.keys("quarantine")
    again = validate_handler.handler(_fault(event), context)
    assert again == first
    assert aws.keys("quarantine") == objects
    assert aws.body("quarantine", first["quarantine_key"]) == GOOD


def test_the_quarantine_action_records_nothing_in_the_ledger(aws, context):
    event = aws.put("in/a+b.csv", GOOD)
    before = aws.item(event["file_id"])
    validate_handler.handler(_fault(event), context)
    assert aws.item(event["file_id"]) == before


def test_the_quarantine_action_refuses_a_status_that_is_not_a_failure(aws, context):
    event = aws.put("in/a.csv", GOOD)
    with pytest.raises(ValueError, match="COMPLETED"):
        validate_handler.handler(_fault(event, "COMPLETED"), context)
    assert aws.keys("quarantine") == []


def test_every_timestamp_the_functions_write_is_utc_with_milliseconds_and_z(aws, context):
    good = aws.put("in/good.csv", GOOD)
    validate_handler.handler(good, context)
    transform_handler.handler(good, context)
    bad = aws.put("in/bad.csv", BAD)
    rejected = validate_handler.handler(bad, context)
    items = [aws.item(good["file_id"]), aws.item(bad["file_id"])]
    stamps = {
        f"{item['status']} {name}": value for item in items for name, value in item.items() if name.endswith("_at")
    }
    report = json.loads(aws.body("quarantine", rejected["quarantine_key"] + ".errors.json"))
    stamps["report rejected_at"] = report["rejected_at"]
    assert set(stamps) >= {
        "COMPLETED updated_at",
        "COMPLETED validating_at",
        "COMPLETED validated_at",
        "COMPLETED transforming_at",
        "COMPLETED completed_at",
        "VALIDATION_FAILED validation_failed_at",
    }
    assert {name: value for name, value in stamps.items() if not TIMESTAMP.match(value)} == {}


SETTINGS = Settings(
    ledger_table="ledger",
    processed_bucket="processed",
    output_prefix="processed/",
    staging_prefix="_staging/",
    quarantine_bucket="quarantine",
    quarantine_prefix="quarantine/",
    config=Config(),
)
VERSION = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
key_characters = st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(["é", "数", "😀", "/"]))


@given(st.text(key_characters, min_size=1, max_size=1024).map(lambda k: utf8_head(k * 8, MAX_KEY_BYTES)))
def test_output_and_quarantine_keys_fit_with_the_staging_prefix_and_the_report_suffix(key):
    assert len(("_staging/" + SETTINGS.output_key(key, VERSION)).encode()) <= MAX_KEY_BYTES
    assert len((SETTINGS.quarantine_key(key, VERSION) + ".errors.json").encode()) <= MAX_KEY_BYTES
