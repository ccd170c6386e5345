"""An input prefix through run-local: every case of an accepted suffix under it starts; nothing else is recorded.

One pipeline with `input_prefix="incoming/"` runs every file of the module.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from etl_constructs import EtlPipeline, EtlPipelineProps
from etl_constructs.local import FileReport, LocalPipeline

GOOD_CSV = b"transaction_id,amount,date,account_id\nt1,125.50,2024-03-01,a\n"
BAD_CSV = b"transaction_id,amount,date,account_id\nt1,12.50,2024-02-30,a\n"
KEYS = {
    "incoming/a.Csv": GOOD_CSV,
    "incoming/b.CSV": GOOD_CSV,
    "incoming/c.JsonL": b'{"transaction_id": "t", "amount": "1.00", "date": "2024-03-01", "account_id": "a"}\n',
    "incoming/bad.cSv": BAD_CSV,
    "incoming/notes.txt": b"hello",
    "elsewhere/d.csv": GOOD_CSV,
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, FileReport], dict[str, str], int]:
    folder = tmp_path_factory.mktemp("prefix")
    app = cdk.App(outdir=str(folder / "cdk"))
    EtlPipeline(cdk.Stack(app, "Prefixed"), "Pipeline", EtlPipelineProps(input_prefix="incoming/"))
    app.synth()
    with LocalPipeline(folder / "cdk" / "Prefixed.template.json", out=folder / "out") as local:
        uploads = []
        for key, body in KEYS.items():
            path = folder / key.replace("/", "_")
            path.write_bytes(body)
            uploads.append(local.upload(path, key))
        run = local.process(uploads)
        sfn = local.clients["stepfunctions"]
        executions = sfn.list_executions(stateMachineArn=local.pipeline.state_machine_arn)["executions"]
        statuses = {}
        for execution in executions:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            statuses[described["input"]] = described["status"]
        items = local.clients["dynamodb"].scan(TableName=local.pipeline.table)["Items"]
    by_key = {r.key: r for r in run.files}
    return by_key, statuses, len(items)


@pytest.mark.parametrize("key", ["incoming/a.Csv", "incoming/b.CSV", "incoming/c.JsonL"])
def test_every_case_of_an_accepted_suffix_under_the_prefix_completes(outcome, key):
    reports, _, _ = outcome
    assert reports[key].status == "COMPLETED", reports[key].errors


def test_a_rejected_file_is_recorded_and_its_execution_succeeds(outcome):
    reports, statuses, _ = outcome
    assert reports["incoming/bad.cSv"].status == "VALIDATION_FAILED"
    assert reports["incoming/bad.cSv"].quarantine is not None
    (status,) = [s for given, s in statuses.items() if "bad.cSv" in given]
    assert status == "SUCCEEDED"


def test_other_suffixes_and_keys_outside_the_prefix_start_nothing_and_get_no_ledger_item(outcome):
    reports, _, item_count = outcome
    assert reports["incoming/notes.txt"].status == "NOT_STARTED"
    assert "suffix not accepted" in reports["incoming/notes.txt"].errors[0]["message"]
    assert reports["elsewhere/d.csv"].status == "NOT_STARTED"
    assert "outside the input prefix" in reports["elsewhere/d.csv"].errors[0]["message"]
    assert item_count == 4


def test_no_execution_fails(outcome):
    _, statuses, _ = outcome
    assert set(statuses.values()) == {"SUCCEEDED"}


def test_the_report_has_no_invented_file_id(outcome):
    reports, _, _ = outcome
    assert reports["elsewhere/d.csv"].file_id is None
