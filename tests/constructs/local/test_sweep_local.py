"""The sweep, run as its schedule would: it settles what no execution or reconciler settled, and
starts what the rule could not start. Every path runs the real definitions and handlers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from etl_constructs.local import LocalPipeline
from etl_constructs.testing import Fault

from .test_permissions_local import without

BODY = b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01,a\n"
#: Past the default execution timeout (1 hour) and the sweep's grace (10 minutes).
LATER = timedelta(hours=1, minutes=11)


def _stranded(local: LocalPipeline, source: Path) -> tuple[str, dict[str, str]]:
    """Run a file whose execution fails and whose failure path cannot record: its item stays VALIDATING."""
    local.inject(Fault.error("s3", "GetObject", caller="Validate", times=None))
    local.inject(Fault.error("dynamodb", "UpdateItem", caller="StateMachine", times=None))
    upload = local.upload(source, source.name)
    (event,) = local.matched_events()
    execution = local.start(event)
    ended = local.wait([execution])
    local.faults.clear()
    assert ended == {execution: "FAILED"}
    file_id = local.file_id(upload)
    assert local.ledger_item(file_id)["status"] == "VALIDATING"
    return file_id, ended


def _quarantined(local: LocalPipeline, file_id: str) -> bytes:
    item = local.ledger_item(file_id)
    key = f"quarantine/{item['version']}/{item['key']}"
    return local.clients["s3"].get_object(Bucket=local.pipeline.quarantine_bucket, Key=key)["Body"].read()


def _queue_depth(local: LocalPipeline, name_part: str) -> int:
    sqs = local.clients["sqs"]
    (url,) = [u for u in sqs.list_queues()["QueueUrls"] if name_part in u]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_an_item_nothing_settled_is_settled_by_the_sweep_once_past_the_timeout(default_template_path, tmp_path):
    source = tmp_path / "stranded.csv"
    source.write_bytes(BODY)
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        file_id, _ = _stranded(local, source)  # and its status-change event never reaches the reconciler
        early = local.sweep()
        assert early["unsettled"] == [] and local.ledger_item(file_id)["status"] == "VALIDATING"
        swept = local.sweep(at=datetime.now(UTC) + LATER)
        item = local.ledger_item(file_id)
        assert swept["unsettled"] == [file_id]
        assert item["status"] == "VALIDATION_FAILED"
        assert item["error"] == "ExecutionUnsettled" and "sweep" in item["cause"]
        assert _quarantined(local, file_id) == BODY
        again = local.sweep(at=datetime.now(UTC) + LATER)
        assert again["unsettled"] == []  # final now: nothing to do twice


def test_a_failing_reconciler_parks_the_event_and_the_sweep_hands_it_back(standard_template_path, tmp_path):
    """On STANDARD, whose failed execution sends the status-change event the reconciler is started for."""
    source = tmp_path / "parked.csv"
    source.write_bytes(BODY)
    with LocalPipeline(standard_template_path, out=tmp_path / "out") as local:
        file_id, ended = _stranded(local, source)
        local.inject(Fault.error("dynamodb", "GetItem", caller="Reconciler", times=None))
        (reconciler,) = local.reconcile(ended)
        local.faults.clear()
        described = local.clients["stepfunctions"].describe_execution(executionArn=reconciler)
        assert described["status"] == "FAILED"
        assert _queue_depth(local, "ReconcilerDeadLetters") == 1
        assert local.ledger_item(file_id)["status"] == "VALIDATING"
        swept = local.sweep()  # at once: a parked event needs no waiting for the timeout
        assert swept["redriven"] == 1
        item = local.ledger_item(file_id)
        (execution,) = ended
        failed = local.clients["stepfunctions"].describe_execution(executionArn=execution)
        # The execution's own error and cause, as its status-change event carried them: the failure its
        # failure path caught and could not record.
        assert item["status"] == "VALIDATION_FAILED" and failed["error"] == "ProcessingFailed"
        assert (item["error"], item["cause"]) == (failed["error"], failed["cause"]), item
        assert "fault injected" in json.loads(item["cause"])["Cause"]
        assert _queue_depth(local, "ReconcilerDeadLetters") == 0
        assert _quarantined(local, file_id) == BODY


def test_an_event_the_rule_could_not_start_is_started_by_the_sweep(default_template_path, variant, tmp_path):
    template = variant(default_template_path, tmp_path, without("states:StartExecution", "StateMachineEventsRole"))
    source = tmp_path / "unstarted.csv"
    source.write_bytes(BODY)
    with LocalPipeline(template, out=tmp_path / "out") as local:
        (report,) = local.run([source]).files
        assert report.status == "NOT_STARTED"
        assert _queue_depth(local, "EventDeadLetters") == 1
        swept = local.sweep()
        assert swept["restarted"] == 1
        upload = next(iter(local._not_started))
        item = local.ledger_item(local.file_id(upload))
        assert item["status"] == "COMPLETED"
        assert _queue_depth(local, "EventDeadLetters") == 0
        assert local.sweep()["restarted"] == 0


def test_a_reconciler_that_keeps_failing_gets_the_event_three_times_then_leaves_it_for_an_operator(
    standard_template_path, tmp_path
):
    source = tmp_path / "stuck.csv"
    source.write_bytes(BODY)
    with LocalPipeline(standard_template_path, out=tmp_path / "out") as local:
        file_id, ended = _stranded(local, source)
        local.inject(Fault.error("dynamodb", "GetItem", caller="Reconciler", times=None))
        local.reconcile(ended)  # fails: its failure's event is parked by the rule
        runs = [local.sweep() for _ in range(4)]
        local.faults.clear()
        assert [r["redriven"] for r in runs] == [1, 1, 1, 0]
        assert [r["left_for_operator"] for r in runs] == [0, 0, 0, 1]
        assert local.ledger_item(file_id)["status"] == "VALIDATING"  # for an operator: DeadLetters1 is on
        sqs = local.clients["sqs"]
        (url,) = [u for u in sqs.list_queues()["QueueUrls"] if "ReconcilerDeadLetters" in u]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        assert waiting == 1


def test_a_file_whose_received_could_not_be_recorded_is_found_by_the_sweep(default_template_path, tmp_path):
    """As on an EXPRESS machine, which sends no status-change event: only the parked message tells."""
    source = tmp_path / "unrecorded.csv"
    source.write_bytes(BODY)
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        local.inject(Fault.error("dynamodb", "PutItem", caller="StateMachine", times=None))
        upload = local.upload(source, source.name)
        (event,) = local.matched_events()
        execution = local.start(event)
        assert local.wait([execution]) == {execution: "FAILED"}  # and no status-change event is delivered
        local.faults.clear()
        file_id = local.file_id(upload)
        assert local.ledger_item(file_id) is None
        assert _queue_depth(local, "ReconcilerDeadLetters") == 1
        assert local.sweep()["redriven"] == 1
        item = local.ledger_item(file_id)
        assert item["status"] == "VALIDATION_FAILED" and item["execution"] == execution
        assert item["error"] == "LedgerUnavailable" and "fault injected" in json.loads(item["cause"])["Cause"]
        assert _quarantined(local, file_id) == BODY


def test_a_sweep_of_an_empty_ledger_does_nothing(default_template_path, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        assert local.sweep(datetime.now(UTC) + LATER) == {
            "unsettled": [],
            "redriven": 0,
            "restarted": 0,
            "resumed": [],
            "left_for_operator": 0,
            "executions": [],
            "failures": [],
            "more": False,
        }


def test_a_settle_whose_reply_was_lost_for_good_is_finished_on_the_redrive(default_template_path, tmp_path):
    """The reconciler's settle applied, every reply lost, the reconciler failed: the redrive must still
    retract the dead attempt's uncommitted output and quarantine the file (no half-processed file)."""
    source = tmp_path / "half.csv"
    source.write_bytes(BODY)
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        upload = local.upload(source, source.name)
        local.matched_events()
        execution = "arn:aws:states:us-east-1:123456789012:execution:main:killed"
        file_id = local.file_id(upload)
        local.clients["dynamodb"].put_item(
            TableName=local.pipeline.table,
            Item={
                "file_id": {"S": file_id},
                "status": {"S": "TRANSFORMING"},
                "execution": {"S": execution},
                "updated_at": {"S": "2026-01-01T00:00:00.000Z"},
            },
        )
        output = f"processed/{upload.key}.{upload.version}.jsonl"  # published, never committed
        local.clients["s3"].put_object(Bucket=local.pipeline.processed_bucket, Key=output, Body=b"{}\n")
        settle = {"ExpressionAttributeValues": {":failed": {"S": "TRANSFORMATION_FAILED"}}}
        local.inject(Fault.reply_lost("dynamodb", "UpdateItem", caller="Reconciler", match=settle, times=None))
        (reconciler,) = local.send_status_change(
            {
                "executionArn": execution,
                "stateMachineArn": local.pipeline.state_machine_arn,
                "status": "FAILED",
                "input": json.dumps(
                    {"bucket": local.pipeline.raw_bucket, "key": upload.key, "version": upload.version}
                ),
            }
        )
        local.faults.clear()
        assert local.clients["stepfunctions"].describe_execution(executionArn=reconciler)["status"] == "FAILED"
        assert local.ledger_item(file_id)["status"] == "TRANSFORMATION_FAILED"  # applied, its replies lost
        assert local.sweep()["redriven"] == 1
        listed = local.clients["s3"].list_objects_v2(Bucket=local.pipeline.processed_bucket, Prefix=output)
        assert "Contents" not in listed, "an output stands beside a failure"
        copy = local.clients["s3"].get_object(
            Bucket=local.pipeline.quarantine_bucket, Key=f"quarantine/{upload.version}/{upload.key}"
        )
        assert copy["Body"].read() == BODY
