"""Large files on an EXPRESS data path: the first state hands them to the STANDARD twin, once, and the twin
runs them to a final status. Run with a threshold of 0 MiB, so every sample file is large."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aws_cdk as cdk
import pytest

from etl_constructs import EtlPipeline, EtlPipelineProps, WorkflowOptions
from etl_constructs.local import LocalPipeline
from etl_constructs.testing import Fault

BODY = b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01,a\n"
TWIN = "LargeFileStateMachine"


@pytest.fixture(scope="module")
def all_large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default pipeline whose every non-empty file is large (large_file_mb=0)."""
    out = tmp_path_factory.mktemp("all-large")
    app = cdk.App(outdir=str(out))
    stack = cdk.Stack(app, "EtlConstructsAllLarge")
    EtlPipeline(stack, "Pipeline", EtlPipelineProps(workflow=WorkflowOptions(large_file_mb=0)))
    app.synth()
    return out / "EtlConstructsAllLarge.template.json"


@pytest.fixture
def local(all_large: Path, tmp_path: Path) -> Iterator[LocalPipeline]:
    with LocalPipeline(all_large, out=tmp_path / "out") as pipeline:
        yield pipeline


def _source(tmp_path: Path, name: str = "large.csv", body: bytes = BODY) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def _twin_executions(local: LocalPipeline) -> list[dict]:
    sfn = local.clients["stepfunctions"]
    return sfn.list_executions(stateMachineArn=local.pipeline.large_file_state_machine_arn)["executions"]


def test_a_large_file_runs_on_the_standard_twin_and_completes(local, tmp_path):
    (report,) = local.run([_source(tmp_path)]).files
    assert report.status == "COMPLETED", report
    item = local.ledger_item(report.file_id)
    assert f":execution:{local.pipeline.large_file_state_machine_arn.rsplit(':', 1)[1]}:" in item["execution"]
    (twin,) = _twin_executions(local)
    assert twin["status"] == "SUCCEEDED" and twin["name"].startswith("large-")
    entry = local.clients["stepfunctions"].describe_state_machine(stateMachineArn=local.pipeline.state_machine_arn)
    twin_machine = local.clients["stepfunctions"].describe_state_machine(
        stateMachineArn=local.pipeline.large_file_state_machine_arn
    )
    assert (entry["type"], twin_machine["type"]) == ("EXPRESS", "STANDARD")


def test_a_rejected_large_file_is_quarantined_by_the_twin(local, tmp_path):
    (report,) = local.run([_source(tmp_path, "bad.csv", BODY.replace(b"2024-01-01", b"2024-02-30"))]).files
    assert report.status == "VALIDATION_FAILED" and report.quarantine, report
    assert TWIN in local.ledger_item(report.file_id)["execution"]


def test_a_repeat_delivery_is_handed_over_once(local, tmp_path):
    upload = local.upload(_source(tmp_path), "twice.csv")
    (event,) = local.matched_events()
    first, second = local.start(event), local.start(event)  # EventBridge delivers at least once
    ended = local._wait_data_path([first, second])
    assert ended[first] == ended[second] == "SUCCEEDED"
    (twin,) = _twin_executions(local)
    assert twin["status"] == "SUCCEEDED"
    item = local.ledger_item(local.file_id(upload))
    assert item["status"] == "COMPLETED" and item["attempt"] == 1 and not item.get("repeat_deliveries")


def test_a_hand_over_refused_leaves_the_file_for_the_sweep_which_settles_it(local, tmp_path):
    local.inject(Fault.error("states", "StartExecution", caller="StateMachine", times=None))
    upload = local.upload(_source(tmp_path, "refused.csv"), "refused.csv")
    (event,) = local.matched_events()
    (status,) = local.wait([local.start(event)]).values()
    local.faults.clear()
    assert status == "FAILED" and _twin_executions(local) == []
    file_id = local.file_id(upload)
    # The input waits in the reconciler's queue; the sweep hands it on, and the reconciler records the
    # version as it records any whose RECEIVED was not written: failed before validation.
    assert local.ledger_item(file_id) is None
    local.sweep(at=datetime.now(UTC) + timedelta(hours=2))
    item = local.ledger_item(file_id)
    assert item is not None and item["status"] == "VALIDATION_FAILED" and item["error"] == "HandOverFailed", item
    assert "fault injected" in json.loads(item["cause"])["Cause"]  # the refusal, as the hand-over's catch saw it
    # A new attempt, asked for as an operator would, runs on the twin and completes.
    (result,) = local.reprocess([file_id])
    assert result.outcome == "started" and TWIN in result.execution
    assert local.ledger_item(file_id)["status"] == "COMPLETED"


def test_run_reports_a_refused_hand_over_as_the_sweep_settles_it(local, tmp_path):
    local.inject(Fault.error("states", "StartExecution", caller="StateMachine", times=None))
    (report,) = local.run([_source(tmp_path, "refused-run.csv")]).files
    local.faults.clear()
    assert report.status == "VALIDATION_FAILED", report  # what the sweep's next run records in AWS


def test_operations_start_the_twin(local):
    assert local.resources.state_machine == local.pipeline.large_file_state_machine_arn


def test_a_small_file_of_the_default_pipeline_stays_on_express(default_template_path, tmp_path):
    with LocalPipeline(default_template_path, out=tmp_path / "out") as local:
        (report,) = local.run([_source(tmp_path, "small.csv")]).files
        assert report.status == "COMPLETED", report
        item = local.ledger_item(report.file_id)
        assert local.pipeline.state_machine_arn.rsplit(":", 1)[1] in item["execution"]
        assert TWIN not in item["execution"] and _twin_executions(local) == []


def _one_second_steps(body: dict) -> None:
    """The EXPRESS machine's function steps wait one second for their function, not two minutes."""
    for resource in body["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and props.get("StateMachineType") == "EXPRESS":
            parts = props["DefinitionString"]["Fn::Join"][1]
            props["DefinitionString"]["Fn::Join"][1] = [
                p.replace('"TimeoutSeconds":120', '"TimeoutSeconds":1') if isinstance(p, str) else p for p in parts
            ]


def test_a_step_that_stops_waiting_leaves_its_function_to_finish_and_the_file_to_the_sweep(
    default_template_path, variant, tmp_path
):
    """Its function still runs: no failure path races it; the file still ends final, with no output beside a
    failure, and the execution says why it ended."""
    template = variant(default_template_path, tmp_path, _one_second_steps)
    # Seconds of validation in-process: longer than the step's one second on any machine this runs on.
    rows = b"".join(b"t%d,%d.25,2024-01-01,acct-%d\n" % (i, i, i) for i in range(1_500_000))
    source = _source(tmp_path, "slow.csv", b"transaction_id,amount,date,account_id\n" + rows)
    with LocalPipeline(template, out=tmp_path / "out") as local:
        (report,) = local.run([source]).files
        sfn = local.clients["stepfunctions"]
        (execution,) = sfn.list_executions(stateMachineArn=local.pipeline.state_machine_arn)["executions"]
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        assert (described["status"], described.get("error")) == ("FAILED", "StepTimedOut"), described
        item = local.ledger_item(report.file_id)
        assert item is not None and item["status"] in ("COMPLETED", "VALIDATION_FAILED", "TRANSFORMATION_FAILED")
        output = item.get("output_key")
        if item["status"] != "COMPLETED":
            processed = local.clients["s3"].list_objects_v2(Bucket=local.pipeline.processed_bucket)
            assert [o["Key"] for o in processed.get("Contents", []) if o["Key"].startswith("processed/")] == []
        else:
            assert output


def test_a_hand_over_whose_reply_is_lost_starts_the_twin_once(local, tmp_path):
    """StartExecution applied, its reply lost: the retry, under the same name, finds the execution there."""
    lost = local.inject(Fault.reply_lost("states", "StartExecution", caller="StateMachine"))
    (report,) = local.run([_source(tmp_path, "lost.csv")]).files
    assert lost.hits == 1
    assert report.status == "COMPLETED", report
    (twin,) = _twin_executions(local)
    assert twin["status"] == "SUCCEEDED"
    assert local.ledger_item(report.file_id)["attempt"] == 1


def test_a_delivery_after_the_twin_ended_is_handed_over_once_and_not_retried(local, tmp_path):
    """The twin refuses the name it still holds (its execution closed): the hand-over ends at once, done."""
    (report,) = local.run([_source(tmp_path, "again.csv")]).files
    assert report.status == "COMPLETED"
    (event,) = local.delivered
    replayed = local.start(event)
    assert local.wait([replayed]) == {replayed: "SUCCEEDED"}
    history = local.clients["stepfunctions"].get_execution_history(executionArn=replayed)["events"]
    assert sum(1 for e in history if e["type"] == "TaskFailed") == 1  # refused once, never retried
    assert [e["stateEnteredEventDetails"]["name"] for e in history if e["type"] == "SucceedStateEntered"] == [
        "Handed over"
    ]
    assert len(_twin_executions(local)) == 1


def test_a_restart_on_the_twin_is_reconciled_once_not_again_by_a_later_run(local, tmp_path):
    """A twin execution something else started (here: reprocess) is waited for and settled once; a later run
    must not take it for a hand-over of its own and deliver its status change a second time."""
    (report,) = local.run([_source(tmp_path, "first.csv")]).files
    assert report.status == "COMPLETED"
    local.inject(Fault.error("s3", "GetObject", caller="Validate", times=None))
    local.inject(Fault.error("dynamodb", "UpdateItem", caller="LargeFileStateMachine", times=None))
    (result,) = local.reprocess([report.file_id], force=True)
    local.faults.clear()
    sfn = local.clients["stepfunctions"]
    assert sfn.describe_execution(executionArn=result.execution)["status"] == "FAILED"
    (reconciler,) = {r.state_machine_arn for r in local.pipeline.other_rules if "aws.states" in r.pattern["source"]}
    settled = len(sfn.list_executions(stateMachineArn=reconciler)["executions"])
    assert settled == 1
    (later,) = local.run([_source(tmp_path, "later.csv")]).files
    assert later.status == "COMPLETED"
    assert len(sfn.list_executions(stateMachineArn=reconciler)["executions"]) == settled
