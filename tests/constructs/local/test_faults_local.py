"""Faults on purpose, through the public testing API: an error, a reply lost after the call applied, a kill."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from etl_constructs.testing import Fault, LocalPipeline

GOOD_CSV = b"transaction_id,amount,date,account_id\nt1,10.50,2024-01-31,acc-1\nt2,-3.25,2024-02-01,acc-2\n"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "a.csv"
    path.parent.mkdir()
    path.write_bytes(GOOD_CSV)
    return path


def outputs(local: LocalPipeline) -> int:
    listed = local.clients["s3"].list_objects_v2(Bucket=local.pipeline.processed_bucket)
    return int(listed["KeyCount"])


@pytest.mark.parametrize(("service", "operation"), [("s3", "GetObject"), ("dynamodb", "UpdateItem")])
def test_errors_the_sdk_retries_away_leave_the_file_completed(
    default_template_path, good, tmp_path, service, operation
):
    fault = Fault.error(service, operation, caller="Validate", times=3, code="ServiceUnavailable", status=503)
    with LocalPipeline(default_template_path, out=tmp_path / "out", faults=[fault], backoff=0) as local:
        (report,) = local.run([good]).files
    assert report.status == "COMPLETED", report.errors
    assert fault.hits == 3


def test_an_error_on_every_attempt_applies_nothing_and_fails_the_step(default_template_path, good, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out", backoff=0) as local:
        fault = local.inject(Fault.error("s3", "PutObject", caller="Transform", times=None))
        (report,) = local.run([good]).files
        assert outputs(local) == 0
    assert report.status == "TRANSFORMATION_FAILED"
    assert fault.hits > 5  # the SDK's attempts, then the state machine's retries, each hit
    assert "InternalError" in report.errors[-1]["message"]


def test_a_lost_reply_means_the_call_was_applied(default_template_path, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        local.inject(Fault.reply_lost("dynamodb", "PutItem", caller="run-local"))
        ddb, table = local.clients["dynamodb"], local.pipeline.table
        item = {"file_id": {"S": "s3://b/k?versionId=1"}, "status": {"S": "RECEIVED"}}
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):
            # The first attempt is applied and its reply lost; the SDK's retry then finds the item there.
            ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(file_id)")
        stored = ddb.get_item(TableName=table, Key={"file_id": item["file_id"]})["Item"]
    assert stored["status"] == {"S": "RECEIVED"}


def test_a_lost_reply_the_sdk_retries_away_leaves_the_file_completed(default_template_path, good, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        fault = local.inject(Fault.reply_lost("s3", "GetObject", caller="Validate"))
        (report,) = local.run([good]).files
    assert (report.status, fault.hits) == ("COMPLETED", 1)


def test_a_function_killed_at_a_call_does_not_make_it_and_times_out(default_template_path, good, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out", backoff=0) as local:
        fault = local.inject(Fault.kill("Transform", "s3", "PutObject", times=None))
        (report,) = local.run([good]).files
        assert outputs(local) == 0
    assert report.status == "TRANSFORMATION_FAILED"
    assert fault.hits >= 1
    assert "Sandbox.Timedout" in report.errors[-1]["message"]


def test_a_function_killed_once_after_its_work_is_retried_and_finds_its_work_done(
    default_template_path, good, tmp_path
):
    with LocalPipeline(default_template_path, out=tmp_path / "out", backoff=0) as local:
        fault = local.inject(Fault.kill("Validate"))
        (report,) = local.run([good]).files
    assert (report.status, fault.hits, report.attempts) == ("COMPLETED", 1, 3)


def test_a_function_killed_every_time_after_its_work_fails_with_its_work_kept(default_template_path, good, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out", backoff=0) as local:
        fault = local.inject(Fault.kill("Validate", times=None))
        (report,) = local.run([good]).files
        item = local.ledger_item(report.file_id)
    assert fault.hits >= 3  # the first run and its two retries
    assert report.status == "VALIDATION_FAILED"
    assert item["rows_total"] == 2  # the validation was recorded before each kill
    assert "Task timed out" in report.errors[-1]["message"]


def test_a_fault_that_never_matches_never_strikes(default_template_path, good, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        fault = local.inject(Fault.error("dynamodb", "DeleteTable"))
        (report,) = local.run([good]).files
    assert (report.status, fault.hits) == ("COMPLETED", 0)


@pytest.mark.parametrize("times", [0, -2])
def test_a_fault_must_strike_at_least_once(times):
    with pytest.raises(ValueError, match="times must be 1 or more"):
        Fault.error("s3", "GetObject", times=times)


def test_an_error_on_a_state_machine_call_is_retried_by_the_definition(default_template_path, good, tmp_path):
    fault = Fault.error("dynamodb", "PutItem", caller="StateMachine", times=2)
    with LocalPipeline(default_template_path, out=tmp_path / "out", faults=[fault], backoff=0) as local:
        (report,) = local.run([good]).files
    assert (report.status, fault.hits) == ("COMPLETED", 2)


def test_a_lost_reply_to_a_state_machine_invoke_is_retried_and_the_file_completes(
    default_template_path, good, tmp_path
):
    fault = Fault.reply_lost("lambda", "Invoke", caller="StateMachine")
    with LocalPipeline(default_template_path, out=tmp_path / "out", faults=[fault], backoff=0) as local:
        (report,) = local.run([good]).files
    assert (report.status, fault.hits) == ("COMPLETED", 1)
    assert report.attempts == 3  # validate ran twice: the second run found its own VALIDATED


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Fault("explode", "s3", "GetObject"), "unknown fault kind 'explode'"),
        (lambda: Fault.error("dynamo", "PutItem"), "unknown service 'dynamo'"),
        (lambda: Fault.error("s3", "get_object"), "s3 has no operation 'get_object'.*GetObject"),
        (lambda: Fault.kill(""), "must not be empty"),
    ],
)
def test_a_misused_fault_is_refused_with_a_clear_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_fault_may_name_step_functions_by_its_client_name():
    assert Fault.error("stepfunctions", "StartExecution").service == "states"
