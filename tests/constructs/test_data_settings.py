"""DataSettings at synth: a schema file is checked by the functions' own core and shipped in their asset;
control totals add the wait to the definition and the one permission the wait needs."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from etl_constructs import ConfigurationError, DataSettings, EtlPipeline, EtlPipelineProps, WorkflowOptions
from etl_handlers.core.schema import Schema

SCHEMA = {
    "fields": {
        "id": {"type": "string", "required": True, "unique": True},
        "value": {"type": "decimal", "required": True, "minimum": "0"},
    },
    "amount_field": "value",
    "other_fields": "reject",
    "currency_field": None,
}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("data-settings")
    (folder / "schema.json").write_text(json.dumps(SCHEMA))
    app = cdk.App(outdir=str(folder / "cdk"))
    data = DataSettings(schema=folder / "schema.json", control_totals=True, control_wait=cdk.Duration.minutes(10))
    EtlPipeline(cdk.Stack(app, "Settings"), "Pipeline", EtlPipelineProps(data=data))
    app.synth()
    return json.loads((folder / "cdk" / "Settings.template.json").read_text()), folder / "cdk"


def _functions(template: dict) -> dict[str, dict]:
    return {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and "ETL_CONFIG" in json.dumps(v)
    }


def test_the_schema_travels_in_the_asset_and_the_environment_names_it_by_hash(synthesized):
    template, outdir = synthesized
    schema = Schema.from_dict(SCHEMA)
    for resource in _functions(template).values():
        config = json.loads(resource["Properties"]["Environment"]["Variables"]["ETL_CONFIG"])
        assert (config["schema_file"], config["schema_hash"]) == ("etl_schema.json", schema.hash)
        asset = outdir / ("asset." + resource["Properties"]["Code"]["S3Key"].removesuffix(".zip"))
        assert Schema.from_file(asset / "etl_schema.json") == schema
        assert (asset / "etl_handlers" / "validate_handler.py").is_file()
        assert len(json.dumps(resource["Properties"]["Environment"]["Variables"])) < 4096


def test_a_data_file_looks_for_its_control_record_every_minute_for_the_wait(synthesized):
    template, _ = synthesized
    (machine,) = [
        v
        for v in template["Resources"].values()
        if v["Type"] == "AWS::StepFunctions::StateMachine" and "Wait for the control record" in json.dumps(v)
    ]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    states = _states(json.loads("".join(p if isinstance(p, str) else "0" for p in parts)))
    wait = states["Wait for the control record"]
    assert (wait["Seconds"], wait["Next"]) == (60, "Validate")
    pending = [c for c in states["Valid?"]["Choices"] if c.get("StringEquals") == "CONTROL_RECORD_PENDING"]
    assert [c["Next"] for c in pending] == ["Wait for the control record"]
    # No retrier or catch of its own: a wait is a normal outcome, never a function error (the error alarm).
    assert "ControlRecordPending" not in json.dumps(states["Validate"])
    config = json.loads(_functions(template).popitem()[1]["Properties"]["Environment"]["Variables"]["ETL_CONFIG"])
    assert (config["control_checks"], config["control_wait_seconds"]) == (10, 600)


def _states(body: dict) -> dict:
    found = {}
    for name, state in body["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_states(branch))
    return found


def test_only_the_wait_adds_list_bucket_to_the_validate_role(synthesized):
    template, _ = synthesized
    lists = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "s3:ListBucket" in json.dumps(s["Action"])
    ]
    assert len(lists) == 1 and lists[0]["Action"] == "s3:ListBucket"
    app = cdk.App()
    EtlPipeline(cdk.Stack(app, "Plain"), "Pipeline")
    assert "s3:ListBucket" not in json.dumps(Template.from_stack(app.node.find_child("Plain")).to_json())


def test_a_malformed_schema_file_is_refused_at_synth_with_the_setting_s_path(tmp_path):
    bad = dict(SCHEMA, fields={**SCHEMA["fields"], "value": {"type": "decimal", "required": True, "maximum": "x"}})
    (tmp_path / "schema.json").write_text(json.dumps(bad))
    with pytest.raises(ConfigurationError, match=r"schema .*schema\.json: fields\.value\.maximum: a plain decimal"):
        DataSettings(schema=tmp_path / "schema.json")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"schema": "no/such/schema.json"}, "schema: no file at"),
        ({"schema": {"fields": {"amount": {"type": "decimal"}}}}, "schema: fields.amount: the amount field"),
        ({"schema": 42}, "schema is a int"),
        ({"schema": SCHEMA, "required_fields": ("transaction_id", "amount")}, "mark its fields"),
        ({"default_currency": "XYZ"}, "not an active ISO 4217 code"),
        ({"control_wait": cdk.Duration.seconds(30), "control_check_interval": cdk.Duration.minutes(1)}, "shorter"),
        ({"control_check_interval": cdk.Duration.millis(1500)}, "whole number of seconds"),
        ({"control_wait": cdk.Duration.days(8)}, "at most 7 days"),
        ({"control_wait": cdk.Duration.hours(1), "control_check_interval": cdk.Duration.seconds(1)}, "25,000"),
        ({"control_totals": True, "suffixes": (".csv",)}, "needs '.json'"),
        ({"rounding": "ROUND_NEAREST"}, "rounding must be one of"),
    ],
)
def test_bad_data_settings_are_refused_at_synth(settings, words):
    with pytest.raises(ConfigurationError, match=None) as caught:
        DataSettings(**settings)
    assert words in str(caught.value)


def test_any_currency_accepts_a_code_outside_the_table():
    assert DataSettings(default_currency="XYZ", any_currency=True).config.default_currency == "XYZ"


@pytest.mark.parametrize(
    ("large_file_mb", "message"),
    [
        (None, r"control_wait .* do not fit execution_timeout"),
        (256, r"control_wait .* do not fit an EXPRESS execution's 5 minutes: leave state_machine_type unset"),
    ],
    ids=["express-alone", "with-twin"],
)
def test_an_express_machine_refuses_a_wait_it_cannot_hold(large_file_mb, message):
    app = cdk.App()
    with pytest.raises(ConfigurationError, match=message):
        EtlPipeline(
            cdk.Stack(app, "Express"),
            "Pipeline",
            EtlPipelineProps(
                state_machine_type=cdk.aws_stepfunctions.StateMachineType.EXPRESS,
                data=DataSettings(control_totals=True),
                workflow=WorkflowOptions(large_file_mb=large_file_mb),
            ),
        )


def test_control_totals_make_the_default_machine_standard():
    pipeline = EtlPipeline(
        cdk.Stack(cdk.App(), "Totals"), "Pipeline", EtlPipelineProps(data=DataSettings(control_totals=True))
    )
    assert pipeline.workflow.props.state_machine_type == cdk.aws_stepfunctions.StateMachineType.STANDARD
    assert pipeline.large_file_state_machine is None
