"""Operating a pipeline in the local emulation: reprocess, backfill, replay, and the ledger commands."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from etl_constructs.cli import main
from etl_constructs.ops import attempts, reprocess
from etl_constructs.testing import Fault, LocalPipeline

pytestmark = pytest.mark.slow

VALID = "transaction_id,amount,date,account_id\nT-1,10.00,2024-03-01,ACC-1\n"
INVALID = "transaction_id,amount,date,account_id\nT-1,ten,2024-03-01,ACC-1\n"


@pytest.fixture
def pipeline(etl_template_path: Path, tmp_path: Path):
    with (
        (tmp_path / "logs.jsonl").open("w") as log,
        LocalPipeline(etl_template_path, out=tmp_path / "out", log=log) as local,
    ):
        yield local


@pytest.fixture(scope="module")
def etl_template_path(tmp_path_factory) -> Path:
    from etl_constructs.local import synthesize_default

    return synthesize_default(tmp_path_factory.mktemp("operate"))


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _failed(pipeline: LocalPipeline, tmp_path: Path) -> str:
    """A file failed by a fault: every invocation of the validate step refused by the Lambda service."""
    pipeline.inject(
        Fault.error("lambda", "Invoke", caller="StateMachine", code="ServiceException", status=500, times=None)
    )
    (report,) = pipeline.run([_file(tmp_path, "march.csv", VALID)]).files
    pipeline.clear_faults()
    assert report.status == "VALIDATION_FAILED", report
    assert "ServiceException" in report.errors[0]["message"]
    assert report.file_id is not None
    return report.file_id


def test_a_file_failed_by_a_fault_is_reprocessed_to_completed_as_attempt_two(pipeline, tmp_path):
    file_id = _failed(pipeline, tmp_path)
    (result,) = pipeline.reprocess([file_id])
    assert (result.outcome, result.attempt) == ("started", 2)
    item = pipeline.ledger_items()[0]
    assert (item["status"], item["attempt"]) == ("COMPLETED", 2)
    first, second = attempts(item)
    assert (first["attempt"], first["status"], first["error"]) == (1, "VALIDATION_FAILED", "Lambda.ServiceException")
    assert (second["attempt"], second["status"], second["rows_written"]) == (2, "COMPLETED", 1)
    assert first["execution"] != second["execution"]
    output = pipeline.clients["s3"].get_object(Bucket=item["output_bucket"], Key=item["output_key"])["Body"].read()
    assert json.loads(output)["transaction_id"] == "T-1"


def test_a_file_throttled_past_its_budget_waits_deferred_and_a_reprocess_resumes_its_attempt(pipeline, tmp_path):
    """No room for the file (its function refuses every call, as at concurrency 0): it is not at fault, so it
    waits DEFERRED, not failed; the sweep (or a reprocess) resumes the same attempt once there is room."""
    pipeline.inject(
        Fault.error("lambda", "Invoke", caller="StateMachine", code="TooManyRequestsException", status=429, times=None)
    )
    (report,) = pipeline.run([_file(tmp_path, "may.csv", VALID)]).files
    assert report.status == "DEFERRED" and "TooManyRequestsException" in report.errors[0]["message"]
    item = pipeline.ledger_item(report.file_id)
    assert item is not None and item["error"] == "Lambda.TooManyRequestsException"
    assert item["deferrals"] >= 1 and item["deferred_at"] and "history" not in item
    assert report.deferrals == item["deferrals"]
    pipeline.clear_faults()
    (result,) = pipeline.reprocess([report.file_id])
    assert (result.outcome, result.attempt) == ("started", 1)  # the same attempt goes on
    item = next(i for i in pipeline.ledger_items() if i["file_id"] == report.file_id)
    assert (item["status"], item["attempt"], item["rows_written"]) == ("COMPLETED", 1, 1)
    assert item["execution"] == result.execution and item["resumed_at"] and "error" not in item
    assert "history" not in item


def _updates(params: dict, attribute: str) -> bool:
    return attribute in params.get("UpdateExpression", "")


def test_a_deferral_and_a_resume_whose_replies_are_lost_are_each_applied_once(pipeline, tmp_path):
    """AWS may apply "Defer" or "Resume" and lose the reply: the retry's condition fails, and the execution
    must recognise its own write (deferred once, counted once; resumed by it, not "Not begun")."""
    throttle = pipeline.inject(
        Fault.error("lambda", "Invoke", caller="StateMachine", code="TooManyRequestsException", status=429, times=None)
    )
    lost_defer = pipeline.inject(
        Fault.reply_lost(
            "dynamodb",
            "UpdateItem",
            caller="StateMachine",
            match=lambda p: "deferrals" in p.get("UpdateExpression", ""),
        )
    )
    (report,) = pipeline.run([_file(tmp_path, "july.csv", VALID)]).files
    assert lost_defer.hits == 1 and throttle.hits > 0
    item = next(i for i in pipeline.ledger_items() if i["file_id"] == report.file_id)
    # Three deferrals, each counted once: the first execution's (its reply lost), that of the resume it
    # started at once on the STANDARD twin, and that of the resume the run's sweep started, the function
    # still refusing every call (the run then stops sweeping).
    assert (report.status, item["deferrals"], report.quarantine) == ("DEFERRED", 3, None)
    pipeline.clear_faults()
    lost_resume = pipeline.inject(
        Fault.reply_lost(
            "dynamodb",
            "UpdateItem",
            caller="StateMachine",
            match=lambda p: "resumed_at" in p.get("UpdateExpression", ""),
        )
    )
    (result,) = pipeline.reprocess([report.file_id])
    assert lost_resume.hits == 1
    item = next(i for i in pipeline.ledger_items() if i["file_id"] == report.file_id)
    assert (item["status"], item["attempt"], item["execution"]) == ("COMPLETED", 1, result.execution)


def test_a_forced_attempt_throttled_past_its_budget_fails_and_withdraws_the_earlier_output(pipeline, tmp_path):
    """Deferring it would leave the COMPLETED attempt's output visible beside a waiting item: it fails instead."""
    (report,) = pipeline.run([_file(tmp_path, "june.csv", VALID)]).files
    item = pipeline.ledger_items()[0]
    output = (item["output_bucket"], item["output_key"])
    pipeline.inject(
        Fault.error(
            "lambda",
            "Invoke",
            caller="StateMachine",
            code="TooManyRequestsException",
            status=429,
            times=None,
            match=lambda params: "Validate" in params.get("FunctionName", ""),
        )
    )
    (forced,) = pipeline.reprocess([report.file_id], force=True)
    pipeline.clear_faults()
    item = pipeline.ledger_items()[0]
    assert (forced.outcome, item["status"], item["attempt"]) == ("started", "VALIDATION_FAILED", 2)
    assert item["error"] == "Lambda.TooManyRequestsException" and "deferrals" not in item
    listed = pipeline.clients["s3"].list_objects_v2(Bucket=output[0], Prefix=output[1])
    assert listed["KeyCount"] == 0


def test_a_completed_file_runs_again_only_with_force_and_its_output_is_replaced(pipeline, tmp_path):
    (report,) = pipeline.run([_file(tmp_path, "april.csv", VALID)]).files
    (skipped,) = pipeline.reprocess([report.file_id])
    assert skipped.outcome == "skipped" and "force" in skipped.reason
    s3 = pipeline.clients["s3"]
    item = pipeline.ledger_items()[0]
    before = s3.head_object(Bucket=item["output_bucket"], Key=item["output_key"])["VersionId"]
    (forced,) = pipeline.reprocess([report.file_id], force=True)
    assert forced.outcome == "started"
    item = pipeline.ledger_items()[0]
    assert (item["status"], item["attempt"], [a["status"] for a in attempts(item)]) == (
        "COMPLETED",
        2,
        ["COMPLETED", "COMPLETED"],
    )
    versions = s3.list_object_versions(Bucket=item["output_bucket"], Prefix=item["output_key"])["Versions"]
    current = [v["VersionId"] for v in versions if v["IsLatest"]]
    assert len(versions) == 2 and current != [before]  # one PUT replaced the other: never neither, never both


def test_two_concurrent_reprocesses_of_one_file_start_one_attempt(pipeline, tmp_path):
    file_id = _failed(pipeline, tmp_path)
    sfn = pipeline.clients["stepfunctions"]
    item = pipeline.ledger_item(file_id)
    assert item is not None
    request = {"bucket": item["bucket"], "key": item["key"], "version": item["version"], "reprocess": "failed"}
    # Two operators (or tools) at once, under different execution names: the ledger's condition decides.
    started = [
        sfn.start_execution(stateMachineArn=pipeline.pipeline.state_machine_arn, name=n, input=json.dumps(request))[
            "executionArn"
        ]
        for n in ("operator-a", "operator-b")
    ]
    # And the CLI's own requests, from two threads: one execution name per attempt.
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.extend(reprocess(pipeline.clients["dynamodb"], sfn, pipeline.resources, [file_id]))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline.reconcile(pipeline.wait(started + [r.execution for r in results if r.execution]))
    item = pipeline.ledger_item(file_id)
    assert item is not None and item["status"] == "COMPLETED"
    full = next(i for i in pipeline.ledger_items() if i["file_id"] == file_id)
    assert [a["attempt"] for a in attempts(full)] == [1, 2]  # one attempt began, whichever asked first
    begun = [arn for arn in started if pipeline.ledger_item(file_id)["execution"] == arn]
    assert len(begun) <= 1


def test_backfill_of_500_objects_run_twice_gives_500_items_and_500_executions(pipeline, tmp_path):
    s3 = pipeline.clients["s3"]
    raw = pipeline.pipeline.raw_bucket
    for index in range(500):
        s3.put_object(Bucket=raw, Key=f"old/{index:03}.csv", Body=VALID.replace("T-1", f"T-{index}").encode())
    s3.put_object(Bucket=raw, Key="old/notes.txt", Body=b"not a data file")
    pipeline.matched_events()  # what landed before the pipeline: its events are gone

    dry = pipeline.backfill(prefix="old/", dry_run=True)
    assert (dry.listed, dry.eligible, dry.would_start, dry.started) == (501, 500, 500, 0)
    first = pipeline.backfill(prefix="old/")
    assert (first.eligible, first.known, first.started) == (500, 0, 500)
    second = pipeline.backfill(prefix="old/")
    assert (second.eligible, second.known, second.started, second.already_started) == (500, 500, 0, 0)

    items = pipeline.ledger_items()
    assert len(items) == 500 and {i["status"] for i in items} == {"COMPLETED"}
    sfn = pipeline.clients["stepfunctions"]
    # A backfill starts the machine restarts run on: the STANDARD twin, whatever the size.
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=pipeline.pipeline.restart_machine_arn)
    assert sum(len(p["executions"]) for p in pages) == 500


def test_a_replay_of_completed_events_changes_nothing(pipeline, tmp_path):
    run = pipeline.run([_file(tmp_path, "may.csv", VALID), _file(tmp_path, "bad.csv", INVALID)])
    assert [f.status for f in run.files] == ["COMPLETED", "VALIDATION_FAILED"]
    s3 = pipeline.clients["s3"]

    def state() -> tuple[list[dict], list[tuple[str, str]]]:
        objects = [
            (v["Key"], v["VersionId"])
            for bucket in (pipeline.pipeline.processed_bucket, pipeline.pipeline.quarantine_bucket)
            for v in s3.list_object_versions(Bucket=bucket).get("Versions", [])
        ]
        return pipeline.ledger_items(), sorted(objects)

    before = state()
    replayed = pipeline.replay()
    assert len(replayed) == 2
    assert {pipeline.clients["stepfunctions"].describe_execution(executionArn=a)["status"] for a in replayed} == {
        "SUCCEEDED"
    }
    assert state() == before


def test_ledger_list_prints_a_table_and_json_and_show_gives_the_history(etl_template_path, tmp_path, capsys):
    out = tmp_path / "out"
    data = tmp_path / "data"
    data.mkdir()
    _file(data, "good.csv", VALID)
    _file(data, "bad.csv", INVALID)
    assert main(["run-local", "--quiet", "--template", str(etl_template_path), "--out", str(out), str(data)]) == 1
    capsys.readouterr()

    assert main(["ledger", "list", "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["status", "updated_at", "attempt"]
    assert sorted(line.split()[0] for line in table[2:]) == ["COMPLETED", "VALIDATION_FAILED"]

    assert main(["ledger", "list", "--out", str(out), "--json", "--status", "VALIDATION_FAILED"]) == 0
    (failed,) = json.loads(capsys.readouterr().out)
    assert failed["key"] == "bad.csv" and failed["error_count"] == 1

    assert main(["ledger", "show", "--out", str(out), failed["file_id"]]) == 0
    shown = capsys.readouterr().out
    assert "attempt 1: VALIDATION_FAILED" in shown and "quarantine_key" in shown

    assert main(["ledger", "show", "--out", str(out), "s3://nope/x?versionId=1"]) == 2
    assert "no ledger item" in capsys.readouterr().err


class Interrupted(Exception):
    pass


def test_an_interrupted_backfill_resumes_after_the_last_page_it_finished(pipeline, tmp_path):
    s3 = pipeline.clients["s3"]
    for index in range(5):
        s3.put_object(Bucket=pipeline.pipeline.raw_bucket, Key=f"old/{index}.csv", Body=VALID.encode())
    pipeline.matched_events()
    checkpoint = tmp_path / "backfill.json"

    def stop(result) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        pipeline.backfill(prefix="old/", checkpoint=checkpoint, progress=stop, page_size=2)
    assert json.loads(checkpoint.read_text())["done"] is False
    resumed = pipeline.backfill(prefix="old/", checkpoint=checkpoint, page_size=2)
    assert (resumed.listed, resumed.started) == (3, 3)  # the first page is not listed again
    assert json.loads(checkpoint.read_text())["done"] is True
    again = pipeline.backfill(prefix="old/", checkpoint=checkpoint, page_size=2)  # done: from the start
    assert (again.listed, again.known, again.started) == (5, 5, 0)
    assert len(pipeline.ledger_items()) == 5


def test_a_completed_file_rejected_under_new_rules_has_its_earlier_output_withdrawn(pipeline, tmp_path):
    from etl_constructs.local.invoke import forget_container

    (report,) = pipeline.run([_file(tmp_path, "june.csv", VALID)]).files
    item = pipeline.ledger_item(report.file_id)
    assert item is not None and item["status"] == "COMPLETED"
    s3 = pipeline.clients["s3"]
    assert "Contents" in s3.list_objects_v2(Bucket=item["output_bucket"], Prefix=item["output_key"])
    # The rules change (as a redeploy would change the functions' configuration): `memo` is now required.
    for function in pipeline.pipeline.functions.values():
        if "ETL_CONFIG" in function.environment:
            config = json.loads(function.environment["ETL_CONFIG"])
            config["required_fields"] = [*config["required_fields"], "memo"]
            function.environment["ETL_CONFIG"] = json.dumps(config)
    forget_container()
    (forced,) = pipeline.reprocess([report.file_id], force=True)
    assert forced.outcome == "started"
    full = next(i for i in pipeline.ledger_items() if i["file_id"] == report.file_id)
    assert [(a["attempt"], a["status"]) for a in attempts(full)] == [(1, "COMPLETED"), (2, "VALIDATION_FAILED")]
    assert "memo" in full["error"]
    # Output is visible only while the ledger says COMPLETED: the earlier output went with the rejection.
    assert "Contents" not in s3.list_objects_v2(Bucket=item["output_bucket"], Prefix=item["output_key"])
    assert full["quarantine_key"] and s3.head_object(Bucket=full["quarantine_bucket"], Key=full["quarantine_key"])


@pytest.mark.parametrize("kind", ["error", "reply_lost"])
def test_a_new_attempt_whose_write_fails_or_loses_its_reply_begins_once(pipeline, tmp_path, kind):
    """AWS may apply "Begin a new attempt" and lose its reply: the retry's condition then fails, and the
    execution must recognise its own write (not count it as another's) without appending history twice."""
    file_id = _failed(pipeline, tmp_path)
    fault = pipeline.inject(
        getattr(Fault, kind)(
            "dynamodb",
            "UpdateItem",
            caller="StateMachine",
            match=lambda params: "history" in params.get("UpdateExpression", ""),
        )
    )
    (result,) = pipeline.reprocess([file_id])
    assert fault.hits == 1 and result.outcome == "started"
    full = next(i for i in pipeline.ledger_items() if i["file_id"] == file_id)
    assert [(a["attempt"], a["status"]) for a in attempts(full)] == [(1, "VALIDATION_FAILED"), (2, "COMPLETED")]
    assert full["execution"] == result.execution


@contextmanager
def _failing_twice(template: Path, tmp_path: Path) -> Iterator[LocalPipeline]:
    """A pipeline whose validate function is killed on every try and whose failure path's ledger write is
    refused: an execution fails with its item left in progress."""
    with (
        (tmp_path / "logs.jsonl").open("w") as log,
        LocalPipeline(template, out=tmp_path / "out", log=log, backoff=0) as local,
    ):
        local.inject(Fault.kill("Validate", "s3", "GetObject", times=None))
        local.inject(Fault.error("dynamodb", "UpdateItem", caller="StateMachine", times=None))
        yield local


def test_an_express_execution_sends_no_status_change_and_the_sweep_settles_it(default_template_path, tmp_path):
    """AWS sends no status-change event for an EXPRESS execution: the reconciler must not run for it here either."""
    from datetime import UTC, datetime, timedelta

    with _failing_twice(default_template_path, tmp_path) as local:
        upload = local.upload(_file(tmp_path, "july.csv", VALID), "july.csv")
        (event,) = local.matched_events()
        ended = local.wait([local.start(event)])
        local.reconcile(ended)  # delivers the status-change events AWS would send: none, for EXPRESS
        local.clear_faults()
        file_id = local.file_id(upload)
        sfn = local.clients["stepfunctions"]
        machines = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        reconciler = next(m for m in machines if "Reconciler" in m)
        assert sfn.list_executions(stateMachineArn=reconciler)["executions"] == []
        assert local.ledger_item(file_id)["status"] in ("RECEIVED", "VALIDATING")
        # Unsettled after the STANDARD twin's timeout and the grace (its items run longest).
        swept = local.sweep(at=datetime.now(UTC) + timedelta(hours=1, minutes=11))
        assert swept["unsettled"] == [file_id]
        assert local.ledger_item(file_id)["status"] == "VALIDATION_FAILED"


def test_run_reports_what_the_sweep_settles_when_express_leaves_a_file_unsettled(default_template_path, tmp_path):
    """run-local gives the status a file ends with in AWS: for EXPRESS, the one the sweep gives it later."""
    with _failing_twice(default_template_path, tmp_path) as local:
        (report,) = local.run([_file(tmp_path, "june.csv", VALID)]).files
        local.clear_faults()
        item = local.ledger_item(report.file_id)
        assert report.status == item["status"] == "VALIDATION_FAILED", report
        assert item["error"] == "ExecutionUnsettled" and "sweep" in item["cause"]
