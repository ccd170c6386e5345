"""End to end through the real definition: the synthesized template executed in moto, handlers in-process."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from etl_constructs.local import LocalPipeline, run_local

GOOD_CSV = b"transaction_id,amount,date,account_id\nt1,125.50,2024-03-01,a\nt2,-12.50,2024-03-02,b\n"
BAD_CSV = b"transaction_id,amount,date,account_id\nt1,12.50,2024-02-30,a\n"


@pytest.fixture
def files(tmp_path: Path):
    def make(name: str, body: bytes) -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
        return path

    return make


def _rows(path: str) -> list[dict]:
    return [json.loads(line, parse_float=Decimal) for line in Path(path).read_text().splitlines()]


def test_good_csv_json_and_jsonl_files_complete_with_the_right_records(default_template_path, files, tmp_path):
    inputs = [
        files("a.csv", GOOD_CSV),
        files(
            "b.json",
            json.dumps([{"transaction_id": "j1", "amount": 10.005, "date": "2024-01-01", "account_id": "x"}]).encode(),
        ),
        files(
            "c.jsonl",
            b'{"transaction_id":"l1","amount":"0.50","date":"2024-01-01","account_id":"y","currency":"EUR"}\n',
        ),
    ]
    result = run_local(inputs, template=default_template_path, out=tmp_path / "out")
    assert [f.status for f in result.files] == ["COMPLETED"] * 3
    assert result.ok
    csv_rows = _rows(result.files[0].output)
    assert [(r["transaction_id"], r["fee"]) for r in csv_rows] == [("t1", Decimal("1.26")), ("t2", Decimal("-0.13"))]
    assert _rows(result.files[1].output)[0]["amount"] == Decimal("10.005")
    assert _rows(result.files[2].output)[0]["currency"] == "EUR"
    assert (result.files[0].rows_total, result.files[0].rows_valid, result.files[0].rows_rejected) == (2, 2, 0)


def test_a_bad_file_ends_validation_failed_with_its_quarantine_copy_and_report(default_template_path, files, tmp_path):
    (report,) = run_local([files("bad.csv", BAD_CSV)], template=default_template_path, out=tmp_path / "out").files
    assert report.status == "VALIDATION_FAILED"
    assert report.output is None
    assert Path(report.quarantine).read_bytes() == BAD_CSV
    assert report.errors == [{"row": 1, "field": "date", "message": "is not a real calendar day"}]
    assert (report.rows_total, report.rows_valid, report.rows_rejected) == (1, 0, 1)


def test_a_key_the_rule_does_not_match_is_reported_not_started(default_template_path, files, tmp_path):
    run = run_local([files("notes.txt", b"hello")], template=default_template_path, out=tmp_path)
    (report,) = run.files
    assert (report.status, report.file_id, report.quarantine, report.output) == ("NOT_STARTED", None, None, None)
    assert report.errors[0]["message"].startswith("not started: suffix not accepted")
    assert not run.ok


def test_an_upper_case_suffix_matches_the_rule(default_template_path, files, tmp_path):
    (report,) = run_local([files("UPPER.CSV", GOOD_CSV)], template=default_template_path, out=tmp_path).files
    assert report.status == "COMPLETED"


def test_the_same_object_version_delivered_twice_is_processed_once(default_template_path, files, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path) as local:
        upload = local.upload(files("a.csv", GOOD_CSV), "a.csv")
        (event,) = local.matched_events()
        statuses = local.wait([local.start(event), local.start(event)])
        assert sorted(statuses.values()) == ["SUCCEEDED", "SUCCEEDED"]
        item = local.ledger_item(local.file_id(upload))
        assert item["status"] == "COMPLETED"
        assert item["repeat_deliveries"] == 1
        outputs = local.clients["s3"].list_objects_v2(Bucket=local.pipeline.processed_bucket, Prefix="processed/")
        assert outputs["KeyCount"] == 1


def test_many_concurrent_deliveries_of_one_version_run_it_once(default_template_path, files, tmp_path):
    file_ids: list[str] = []

    def hold_the_first(name: str, payload: dict) -> None:
        # The execution that recorded RECEIVED validates only once the other five met its item in progress:
        # a repeat is counted while the version runs, and a fast EXPRESS run could otherwise end first.
        deadline = time.monotonic() + 30
        while "Validate" in name and time.monotonic() < deadline:
            if (local.ledger_item(file_ids[0]) or {}).get("repeat_deliveries", 0) >= 5:
                return
            time.sleep(0.02)

    with LocalPipeline(default_template_path, out=tmp_path, before_invoke=hold_the_first) as local:
        upload = local.upload(files("a.csv", GOOD_CSV), "a.csv")
        file_ids.append(local.file_id(upload))
        (event,) = local.matched_events()
        local.wait([local.start(event) for _ in range(6)])
        item = local.ledger_item(local.file_id(upload))
    assert item["status"] == "COMPLETED"
    assert item["repeat_deliveries"] == 5


def test_a_function_failing_every_attempt_leaves_transformation_failed(default_template_path, files, tmp_path):
    def before_invoke(name: str, payload: dict) -> None:
        if "Transform" in name:
            raise RuntimeError("the transform function is broken")

    with LocalPipeline(default_template_path, out=tmp_path, before_invoke=before_invoke) as local:
        (report,) = local.run([files("a.csv", GOOD_CSV)]).files
        item = local.ledger_item(report.file_id)
    assert report.status == "TRANSFORMATION_FAILED"
    assert item["error"] == "RuntimeError"
    assert "the transform function is broken" in item["cause"]
    assert Path(report.quarantine).read_bytes() == GOOD_CSV
    assert report.output is None


def test_a_validate_function_that_times_out_leaves_validation_failed(default_template_path, files, tmp_path):
    def before_invoke(name: str, payload: dict) -> None:
        if "Validate" in name:
            raise TimeoutError("Task timed out after 300.00 seconds")

    with LocalPipeline(default_template_path, out=tmp_path, before_invoke=before_invoke) as local:
        (report,) = local.run([files("a.csv", GOOD_CSV)]).files
    assert report.status == "VALIDATION_FAILED"
    assert "timed out" in report.errors[0]["message"]


@pytest.mark.slow
def test_fifty_files_at_once_all_complete(default_template_path, files, tmp_path):
    inputs = [
        files(f"f{i:02d}.csv", b"transaction_id,amount,date,account_id\nt%d,%d.10,2024-01-01,a\n" % (i, i))
        for i in range(50)
    ]
    with LocalPipeline(default_template_path, out=tmp_path) as local:
        result = local.run(inputs)
        items = local.clients["dynamodb"].scan(TableName=local.pipeline.table)["Items"]
        outputs = local.clients["s3"].list_objects_v2(Bucket=local.pipeline.processed_bucket, Prefix="processed/")
    assert [f.status for f in result.files] == ["COMPLETED"] * 50
    assert len(items) == 50
    assert outputs["KeyCount"] == 50


def test_what_a_handler_thread_prints_after_the_run_is_dropped_not_mixed_into_stdout(capsys):
    """Ctrl-C ends a run while executions' threads still run handlers: their last metrics must not reach stdout."""
    import io
    import threading

    from etl_constructs.local.runner import _handler_output

    log = io.StringIO()
    started, release, printed = threading.Event(), threading.Event(), threading.Event()

    def handler() -> None:
        print("during the run")
        started.set()
        release.wait(10)
        print('{"_aws": "metrics flushed late"}')
        printed.set()

    with _handler_output(log):
        worker = threading.Thread(target=handler)
        worker.start()
        assert started.wait(10)
    release.set()
    assert printed.wait(10)
    worker.join()
    print("the caller's own line")
    assert capsys.readouterr().out == "the caller's own line\n"
    assert "during the run" in log.getvalue()
