"""Rules as data through run-local: a user's schema file, and control totals in both arrival orders.

One pipeline for the module, synthesized as a user would write it: `DataSettings(schema=<a JSON file>,
control_totals=True)`. Each test uploads its own keys, so the tests share the emulation safely.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import aws_cdk as cdk
import pytest

from etl_constructs import DataSettings, EtlPipeline, EtlPipelineProps
from etl_constructs.local import LocalPipeline
from etl_handlers.core.schema import Schema

pytestmark = pytest.mark.slow

SCHEMA = {
    "schema_version": 1,
    "fields": {
        "transaction_id": {"type": "string", "required": True, "unique": True},
        "merchant_code": {"type": "string", "required": True, "pattern": "MC\\d{6}"},
        "status": {"type": "string", "required": True, "enum": ["SETTLED", "PENDING", "REVERSED"]},
        "value": {"type": "decimal", "required": True, "minimum": "0"},
        "currency": {"type": "string", "empty": True},
    },
    "other_fields": "reject",
    "amount_field": "value",
}
HEADER = "transaction_id,merchant_code,status,value,currency\n"
GOOD = HEADER + "T1,MC000001,SETTLED,10.00,USD\nT2,MC000002,PENDING,150,JPY\nT3,MC000003,REVERSED,0.050,BHD\n"
TOTALS = {"record_count": 3, "amount_totals": {"USD": "10.00", "JPY": "150", "BHD": "0.050"}}
WAIT_CHECKS = 30


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    schema_file = folder / "transactions.schema.json"
    schema_file.write_text(json.dumps(SCHEMA, indent=2))
    app = cdk.App(outdir=str(folder / "cdk"))
    data = DataSettings(
        schema=schema_file,
        control_totals=True,
        control_wait=cdk.Duration.seconds(WAIT_CHECKS),
        control_check_interval=cdk.Duration.seconds(1),
    )
    EtlPipeline(cdk.Stack(app, "Rules"), "Pipeline", EtlPipelineProps(data=data))
    app.synth()
    return folder / "cdk" / "Rules.template.json"


class Gate:
    """Holds a data file's second look for its control record (the first found none) until the test uploads it."""

    def __init__(self, key: str, hold: bool) -> None:
        self.key = key
        self.hold = hold
        self.looking_again = threading.Event()
        self.go = threading.Event()
        self.looks = 0

    def __call__(self, function: str, payload: dict) -> None:
        if "Validate" in function and payload.get("key") == self.key:
            self.looks += 1
            if self.looks == 2 and self.hold:
                self.looking_again.set()
                assert self.go.wait(60), "the test never uploaded the control record"


def _write(folder: Path, name: str, body: bytes | str) -> Path:
    path = folder / name.replace("/", "_")
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def run_pair(template: Path, folder: Path, key: str, data: str, control: bytes | None, order: str):
    """Upload a data file and its control record in `order` ("before": the record first); return both reports."""
    gate = Gate(key, hold=control is not None and order == "after")
    with LocalPipeline(template, out=folder / "out", before_invoke=gate, log=(folder / "log.jsonl").open("w")) as local:
        data_file = _write(folder, key, data)
        reports = {}
        if control is not None and order == "before":
            control_run = local.process(
                [local.upload(_write(folder, key + ".control.json", control), key + ".control.json")]
            )
            reports.update({r.key: r for r in control_run.files})
            reports.update({r.key: r for r in local.process([local.upload(data_file, key)]).files})
        elif control is not None:
            result: dict = {}
            worker = threading.Thread(target=lambda: result.update(run=local.process([local.upload(data_file, key)])))
            worker.start()
            assert gate.looking_again.wait(60), "the data file never looked again for its control record"
            sidecar = local.upload(_write(folder, key + ".control.json", control), key + ".control.json")
            gate.go.set()
            reports.update({r.key: r for r in local.process([sidecar]).files})
            worker.join(120)
            reports.update({r.key: r for r in result["run"].files})
        else:
            reports.update({r.key: r for r in local.process([local.upload(data_file, key)]).files})
        items = {i["key"]: i for i in local.ledger_items()}
    return reports, items, gate.looks


@pytest.mark.parametrize("order", ["before", "after"])
def test_a_matching_control_record_completes_the_file(template, tmp_path, order):
    reports, items, looks = run_pair(template, tmp_path, "in/day.csv", GOOD, json.dumps(TOTALS).encode(), order)
    assert reports["in/day.csv"].status == "COMPLETED", reports["in/day.csv"].errors
    assert looks == (1 if order == "before" else 2)
    # The control record has its own ledger item, and is never read as data: no output of its own.
    sidecar = reports["in/day.csv.control.json"]
    assert (sidecar.status, sidecar.output) == ("COMPLETED", None)
    assert items["in/day.csv.control.json"]["control_for"] == "in/day.csv"
    lines = [json.loads(line) for line in Path(reports["in/day.csv"].output).read_text().splitlines()]
    # Each fee is rounded to its currency's minor unit, at a tie: USD 2 places, JPY 0, BHD 3 (ROUND_HALF_UP).
    assert [(line["currency"], line["fee"]) for line in lines] == [("USD", 0.1), ("JPY", 2), ("BHD", 0.001)]
    assert items["in/day.csv"]["schema_hash"] == Schema.from_dict(SCHEMA).hash


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize(
    ("control", "message"),
    [
        (
            {**TOTALS, "record_count": 4},
            "control totals differ: the control record counts 4 records, the file has 3",
        ),
        (
            {**TOTALS, "amount_totals": {**TOTALS["amount_totals"], "USD": "10.01"}},
            "control totals differ: the USD amount total is 10.01 in the control record, 10.00 in the file",
        ),
    ],
)
def test_a_different_control_record_rejects_the_file(template, tmp_path, order, control, message):
    reports, _, _ = run_pair(template, tmp_path, "in/day.csv", GOOD, json.dumps(control).encode(), order)
    report = reports["in/day.csv"]
    assert report.status == "VALIDATION_FAILED"
    assert report.quarantine is not None
    assert [e["message"] for e in report.errors] == [message]
    assert reports["in/day.csv.control.json"].status == "COMPLETED"


@pytest.mark.parametrize("order", ["before", "after"])
def test_a_malformed_control_record_rejects_the_file_and_is_quarantined_itself(template, tmp_path, order):
    reports, items, _ = run_pair(template, tmp_path, "in/day.csv", GOOD, b'{"record_count": 3}', order)
    report = reports["in/day.csv"]
    assert report.status == "VALIDATION_FAILED"
    assert report.errors[0]["message"] == (
        f"the control record at s3://{items['in/day.csv']['bucket']}/in/day.csv.control.json is malformed:"
        " the control record has record_count, amount_totals and nothing else; it lacks amount_totals"
    )
    sidecar = reports["in/day.csv.control.json"]
    assert sidecar.status == "VALIDATION_FAILED"
    assert sidecar.quarantine is not None


def test_a_missing_control_record_rejects_the_file_after_the_wait(template, tmp_path):
    reports, _, looks = run_pair(template, tmp_path, "in/day.csv", GOOD, None, "-")
    report = reports["in/day.csv"]
    assert report.status == "VALIDATION_FAILED"
    assert report.quarantine is not None
    assert report.errors[0]["message"].startswith("no control record arrived at s3://")
    assert f"in the {WAIT_CHECKS} s the pipeline waits for one" in report.errors[0]["message"]
    assert looks == WAIT_CHECKS + 1  # the first look, then one after each interval of the wait


def test_bad_rows_name_the_field_and_the_rule(template, tmp_path):
    bad = HEADER + "T1,MC00001,SETTLED,10.00,USD\nT2,MC000002,LOST,-1,XYZ\nT1,MC000003,PENDING,1,\n"
    reports, _, _ = run_pair(template, tmp_path, "in/bad.csv", bad, json.dumps(TOTALS).encode(), "before")
    report = reports["in/bad.csv"]
    assert report.status == "VALIDATION_FAILED"
    assert [(e["row"], e["field"], e["message"]) for e in report.errors] == [
        (1, "merchant_code", "must match the pattern MC\\d{6}"),
        (2, "status", "must be one of SETTLED, PENDING, REVERSED"),
        (2, "value", "must be at least 0"),
        (2, "currency", "must be an active ISO 4217 currency code such as USD"),
        (3, "transaction_id", "repeats the transaction_id of an earlier record"),
    ]


def test_a_field_the_schema_does_not_declare_rejects_the_file(template, tmp_path):
    extra = '[{"transaction_id": "T1", "merchant_code": "MC000001", "status": "SETTLED", "value": "1", "memo": "x"}]'
    control = {"record_count": 1, "amount_totals": {"USD": "1"}}
    reports, _, _ = run_pair(template, tmp_path, "in/extra.json", extra, json.dumps(control).encode(), "before")
    report = reports["in/extra.json"]
    assert report.status == "VALIDATION_FAILED"
    assert [(e["row"], e["field"], e["message"]) for e in report.errors] == [
        (1, "memo", "is not a field of the schema")
    ]
