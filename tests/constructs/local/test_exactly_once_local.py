"""Exactly once under faults: every ledger write and S3 call on the data path, failed each way it can fail.

Each case injects one fault (the call errors before it is applied; it is applied and its reply is
lost; the function is killed in the middle of it), runs a file through the real definition and
handlers, lets the reconciler settle what the execution left, runs the sweep, and checks the invariants:
exactly one final status; the output present if and only if COMPLETED; a quarantine copy and a
report for a rejected file; a valid file COMPLETED, since each fault here is transient.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from etl_constructs.testing import Fault, LocalPipeline

GOOD = b"transaction_id,amount,date,account_id\nt1,10.50,2024-01-31,acc-1\nt2,-3.25,2024-02-01,acc-2\n"
BAD = b"transaction_id,amount,date,account_id\nt1,ten,2024-01-31,acc-1\n"
FINAL = {"COMPLETED", "VALIDATION_FAILED", "TRANSFORMATION_FAILED"}
_names = itertools.count()


def to(status: str) -> dict[str, Any]:
    """The ledger write moving an item to `status`."""
    return {"ExpressionAttributeValues": {":to": {"S": status}}}


def invoking(function: str) -> Any:
    return lambda params: function in str(params.get("FunctionName", ""))


#: (what, service, operation, caller, match, kinds) for a valid file's calls.
VALID_PATH = [
    ("RECEIVED", "dynamodb", "PutItem", "StateMachine", None, ("error", "reply_lost")),
    ("invoke validate", "lambda", "Invoke", "StateMachine", invoking("Validate"), ("error", "reply_lost")),
    ("invoke transform", "lambda", "Invoke", "StateMachine", invoking("Transform"), ("error", "reply_lost")),
    ("VALIDATING", "dynamodb", "UpdateItem", "Validate", to("VALIDATING"), ("error", "reply_lost", "kill")),
    ("read to validate", "s3", "GetObject", "Validate", None, ("error", "reply_lost", "kill")),
    ("VALIDATED", "dynamodb", "UpdateItem", "Validate", to("VALIDATED"), ("error", "reply_lost", "kill")),
    ("TRANSFORMING", "dynamodb", "UpdateItem", "Transform", to("TRANSFORMING"), ("error", "reply_lost", "kill")),
    ("read to transform", "s3", "GetObject", "Transform", None, ("error", "reply_lost", "kill")),
    ("write output", "s3", "PutObject", "Transform", None, ("error", "reply_lost", "kill")),
    ("COMPLETED", "dynamodb", "UpdateItem", "Transform", to("COMPLETED"), ("error", "reply_lost", "kill")),
]
#: The same for a rejected file's calls.
REJECTED_PATH = [
    ("quarantine copy", "s3", "CopyObject", "Validate", None, ("error", "reply_lost", "kill")),
    ("quarantine report", "s3", "PutObject", "Validate", None, ("error", "reply_lost", "kill")),
    (
        "VALIDATION_FAILED",
        "dynamodb",
        "UpdateItem",
        "Validate",
        to("VALIDATION_FAILED"),
        ("error", "reply_lost", "kill"),
    ),
]


def cases(path: list[tuple]) -> list[Any]:
    return [
        pytest.param(service, operation, caller, match, kind, id=f"{what}-{kind}")
        for what, service, operation, caller, match, kinds in path
        for kind in kinds
    ]


def fault(kind: str, service: str, operation: str, caller: str, match: Any) -> Fault:
    if kind == "kill":
        return Fault.kill(caller, service, operation, match=match)
    make = Fault.error if kind == "error" else Fault.reply_lost
    return make(service, operation, caller=caller, match=match)


@pytest.fixture(scope="module", params=["STANDARD", "EXPRESS"])
def local(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A STANDARD data path and the default one (EXPRESS, with its twin for large files): every case runs on both."""
    template = request.getfixturevalue(
        "standard_template_path" if request.param == "STANDARD" else "default_template_path"
    )
    folder = tmp_path_factory.mktemp("exactly-once")
    with (
        (folder / "logs.jsonl").open("w") as log,
        LocalPipeline(template, out=folder / "out", log=log, backoff=0) as pipeline,
    ):
        yield pipeline


def run_one(local: LocalPipeline, body: bytes, injected: Fault, tmp_path: Path):
    source = tmp_path / f"f{next(_names)}.csv"
    source.write_bytes(body)
    local.faults.clear()
    local.inject(injected)
    try:
        (report,) = local.run([source]).files
    finally:
        local.faults.clear()
    assert injected.hits >= 1, "the fault never struck: the case tests nothing"
    # The sweep, an execution timeout later, finds nothing the executions and the reconciler left.
    assert local.sweep(at=datetime.now(UTC) + timedelta(hours=2))["unsettled"] == []
    item = local.ledger_item(report.file_id)
    assert item is not None and item["status"] in FINAL, item
    return report, item


def outputs(local: LocalPipeline, output_key: str) -> bool:
    return "Contents" in local.clients["s3"].list_objects_v2(Bucket=local.pipeline.processed_bucket, Prefix=output_key)


@pytest.mark.parametrize(("service", "operation", "caller", "match", "kind"), cases(VALID_PATH))
def test_a_valid_file_completes_once_with_its_output_whatever_transient_fault(
    local, tmp_path, service, operation, caller, match, kind
):
    report, item = run_one(local, GOOD, fault(kind, service, operation, caller, match), tmp_path)
    assert report.status == "COMPLETED", report.errors
    assert item["rows_written"] == 2
    assert outputs(local, item["output_key"])
    assert item.get("repeat_deliveries") is None  # its own RECEIVED was never taken for a repeat


@pytest.mark.parametrize(("service", "operation", "caller", "match", "kind"), cases(REJECTED_PATH))
def test_a_rejected_file_ends_validation_failed_with_its_copy_and_report_whatever_transient_fault(
    local, tmp_path, service, operation, caller, match, kind
):
    report, item = run_one(local, BAD, fault(kind, service, operation, caller, match), tmp_path)
    assert report.status == "VALIDATION_FAILED"
    assert item.get("output_key") is None
    assert report.quarantine is not None and Path(report.quarantine).read_bytes() == BAD
    assert Path(report.quarantine + ".errors.json").is_file()


@pytest.mark.parametrize(("service", "operation", "caller", "match", "kind"), cases(VALID_PATH[3:]))
def test_a_fault_on_every_attempt_ends_failed_with_no_output(local, tmp_path, service, operation, caller, match, kind):
    injected = fault(kind, service, operation, caller, match)
    injected.times = None
    report, item = run_one(local, GOOD, injected, tmp_path)
    output_key = f"processed/{Path(report.key).name}"
    if report.status == "COMPLETED":
        # Harmless after all: every write was applied and only its reply lost, which the handler
        # recognises as its own.
        assert outputs(local, item["output_key"])
        assert kind == "reply_lost"
    else:
        assert report.status in ("VALIDATION_FAILED", "TRANSFORMATION_FAILED")
        assert not outputs(local, output_key), "an output stands beside a failure"
