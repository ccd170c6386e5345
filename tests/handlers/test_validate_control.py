"""The validate function with control totals and a schema file: waiting, matching, rejecting, recording."""

from __future__ import annotations

import json

import pytest

from etl_handlers import validate_handler
from etl_handlers.core.control import CONTROL_PENDING
from etl_handlers.core.schema import DEFAULT_SCHEMA, Schema

DATA = (
    b"transaction_id,amount,date,account_id,currency\n"
    b"t1,1.50,2024-01-01,a,USD\nt2,100,2024-01-02,b,JPY\nt3,2.25,2024-01-03,c,\n"
)
MATCHING = {"record_count": 3, "amount_totals": {"USD": "3.75", "JPY": "100"}}


@pytest.fixture
def control_on(monkeypatch):
    monkeypatch.setenv(
        "ETL_CONFIG", json.dumps({"control_totals": True, "control_wait_seconds": 600, "control_checks": 2})
    )


def _control(aws, key: str, document) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    aws.s3.put_object(Bucket="raw", Key=key + ".control.json", Body=body)


def test_a_data_file_without_its_control_record_waits_counting_its_looks(aws, context, control_on):
    event = aws.put("in/day.csv", DATA)
    for look in (1, 2):
        assert validate_handler.handler(event, context) == {"status": CONTROL_PENDING}
        item = aws.item(event["file_id"])
        assert (item["status"], item["control_checks"]) == ("VALIDATING", str(look))
    assert aws.keys("quarantine") == []


def test_a_control_record_arriving_between_looks_lets_the_file_through(aws, context, control_on):
    event = aws.put("in/day.csv", DATA)
    assert validate_handler.handler(event, context)["status"] == CONTROL_PENDING
    version = aws.s3.put_object(Bucket="raw", Key="in/day.csv.control.json", Body=json.dumps(MATCHING).encode())
    assert validate_handler.handler(event, context)["status"] == "VALIDATED"
    assert aws.item(event["file_id"])["control_version"] == version["VersionId"]


def test_a_matching_control_record_lets_the_file_through(aws, context, control_on):
    _control(aws, "in/day.csv", MATCHING)
    event = aws.put("in/day.csv", DATA)
    assert validate_handler.handler(event, context)["status"] == "VALIDATED"


def test_after_the_last_look_the_file_is_rejected_and_quarantined(aws, context, control_on):
    event = aws.put("in/day.csv", DATA)
    validate_handler.handler(event, context)
    validate_handler.handler(event, context)
    result = validate_handler.handler(event, context)  # the third look: past control_checks (2)
    assert result["status"] == "VALIDATION_FAILED"
    assert result["error"] == (
        "no control record arrived at s3://raw/in/day.csv.control.json in the 600 s the pipeline waits for one"
    )
    assert f"quarantine/{event['version']}/in/day.csv" in aws.keys("quarantine")


@pytest.mark.parametrize(
    ("control", "message"),
    [
        (
            {"record_count": 4, "amount_totals": MATCHING["amount_totals"]},
            "control totals differ: the control record counts 4 records, the file has 3",
        ),
        (
            {"record_count": 3, "amount_totals": {"USD": "3.70", "JPY": "100"}},
            "control totals differ: the USD amount total is 3.70 in the control record, 3.75 in the file",
        ),
        (
            {"record_count": 3, "amount_totals": {"USD": "3.75"}},
            "control totals differ: the JPY amount total is 0 in the control record, 100 in the file",
        ),
    ],
)
def test_a_different_control_record_rejects_the_file_with_expected_and_actual(
    aws, context, control_on, control, message
):
    _control(aws, "in/day.csv", control)
    event = aws.put("in/day.csv", DATA)
    result = validate_handler.handler(event, context)
    assert (result["status"], result["error"]) == ("VALIDATION_FAILED", message)
    report = json.loads(aws.body("quarantine", f"quarantine/{event['version']}/in/day.csv.errors.json"))
    assert report["errors"][0]["message"] == message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"record_count": "3", "amount_totals": {}}', "record_count must be a whole number"),
        (b'{"record_count": 3, "amount_totals": {"usd": "1"}}', "not a currency code"),
        (b'{"record_count": 3, "amount_totals": {"USD": 1.5e2}}', "plain decimal"),
        (b'{"record_count": 3}', "it lacks amount_totals"),
        (b'{"record_count": 3, "record_count": 4, "amount_totals": {}}', "'record_count' given twice"),
    ],
)
def test_a_malformed_control_record_rejects_its_data_file(aws, context, control_on, body, words):
    _control(aws, "in/day.csv", body)
    event = aws.put("in/day.csv", DATA)
    result = validate_handler.handler(event, context)
    assert result["status"] == "VALIDATION_FAILED"
    assert result["error"].startswith("the control record at s3://raw/in/day.csv.control.json is malformed: ")
    assert words in result["error"]


def test_a_control_record_in_upper_case_is_still_one_and_names_its_data_file(aws, context):
    event = aws.put("in/day.csv.CONTROL.JSON", json.dumps(MATCHING).encode())
    assert validate_handler.handler(event, context)["control_for"] == "in/day.csv"


def test_a_control_record_is_recorded_as_one_never_read_as_data(aws, context):
    event = aws.put("in/day.csv.control.json", json.dumps(MATCHING).encode())
    result = validate_handler.handler(event, context)
    assert result == {"status": "COMPLETED", "format": "control", "record_count": 3, "control_for": "in/day.csv"}
    item = aws.item(event["file_id"])
    assert (item["status"], item["control_for"]) == ("COMPLETED", "in/day.csv")
    assert aws.keys("quarantine") == []


def test_a_malformed_control_record_is_quarantined_with_its_report(aws, context):
    event = aws.put("in/day.csv.control.json", b'[{"transaction_id": "t1"}]')
    result = validate_handler.handler(event, context)
    assert result["status"] == "VALIDATION_FAILED"
    assert result["error"] == "the control record is not a JSON object"
    assert aws.keys("quarantine") == [
        f"quarantine/{event['version']}/in/day.csv.control.json",
        f"quarantine/{event['version']}/in/day.csv.control.json.errors.json",
    ]


def test_each_attempt_records_the_hash_of_the_rules_it_applied(aws, context, monkeypatch, tmp_path):
    good = aws.put("in/good.csv", DATA)
    validate_handler.handler(good, context)
    assert aws.item(good["file_id"])["schema_hash"] == DEFAULT_SCHEMA.hash
    schema = Schema.from_dict({"fields": {"amount": {"type": "decimal", "required": True}}, "other_fields": "drop"})
    (tmp_path / "etl_schema.json").write_text(schema.to_json())
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("ETL_CONFIG", json.dumps({"schema_file": "etl_schema.json", "schema_hash": schema.hash}))
    from etl_handlers import runtime

    runtime.runtime.cache_clear()
    other = aws.put("in/other.csv", DATA)
    validate_handler.handler(other, context)
    assert aws.item(other["file_id"])["schema_hash"] == schema.hash


def test_a_schema_file_that_is_not_the_configured_one_is_never_applied(aws, context, monkeypatch, tmp_path):
    (tmp_path / "etl_schema.json").write_text(DEFAULT_SCHEMA.to_json())
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv(
        "ETL_CONFIG", json.dumps({"schema_file": "etl_schema.json", "schema_hash": "sha256:" + "0" * 64})
    )
    from etl_handlers import runtime

    runtime.runtime.cache_clear()
    with pytest.raises(ValueError, match="not the configuration's"):
        validate_handler.handler(aws.put("in/x.csv", DATA), context)
