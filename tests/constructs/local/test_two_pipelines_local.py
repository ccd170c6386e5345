"""Two pipelines in one stack, one on a bring-your-own bucket: each runs a good file on its own resources.

The stack `Ingest` holds `Cards` (a default EtlPipeline) and `Payments` (on the app's own versioned
bucket with `event_bridge_enabled=True`, reserved concurrency 3); it is synthesized once.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from etl_constructs import EtlPipeline, EtlPipelineProps
from etl_constructs.local import LocalPipeline, run_local
from etl_constructs.local.template import ACCOUNT, REGION, Template

REPO = Path(__file__).resolve().parents[3]
GOOD = REPO / "examples" / "data" / "good-transactions.csv"


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("two-pipelines") / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Ingest")
    EtlPipeline(stack, "Cards")
    own = s3.Bucket(
        stack,
        "Own",
        versioned=True,
        event_bridge_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    EtlPipeline(stack, "Payments", EtlPipelineProps(existing_raw_bucket=own, reserved_concurrency=3))
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def template(assembly: Path) -> Template:
    return Template.load(assembly / "Ingest.template.json")


def _name(template: Template, kind: str, prefix: str) -> str:
    (name,) = [template.names[lid] for lid, r in template.of_type(kind).items() if lid.startswith(prefix)]
    return name


def _items(local: LocalPipeline, table: str) -> list[dict]:
    items: list[dict] = local.clients["dynamodb"].scan(TableName=table)["Items"]
    return items


@pytest.mark.parametrize(
    ("pipeline", "raw", "other"),
    [("Cards", "CardsLandingRaw", "Payments"), ("Payments", "Own", "Cards")],
)
def test_each_pipeline_completes_a_good_file_on_its_own_buckets_and_table(
    assembly, template, tmp_path, pipeline, raw, other
):
    table = _name(template, "AWS::DynamoDB::Table", f"{pipeline}Ledger")
    other_table = _name(template, "AWS::DynamoDB::Table", f"{other}Ledger")
    processed = _name(template, "AWS::S3::Bucket", f"{pipeline}WorkflowProcessed")
    with LocalPipeline(assembly, out=tmp_path, pipeline=pipeline) as local:
        (report,) = local.run([GOOD]).files
        assert report.status == "COMPLETED", report.errors
        assert local.pipeline.raw_bucket == _name(template, "AWS::S3::Bucket", raw)
        assert local.pipeline.table == table
        assert local.pipeline.processed_bucket == processed
        (item,) = _items(local, table)
        assert item["file_id"]["S"] == report.file_id
        assert report.file_id.startswith(f"s3://{local.pipeline.raw_bucket}/")
        assert _items(local, other_table) == []
    assert Path(report.output).is_relative_to(tmp_path / processed)
    assert report.rows_valid == report.rows_total > 0


def test_run_local_takes_the_assembly_folder_and_a_pipeline(assembly, tmp_path):
    run = run_local([GOOD], template=assembly, stack="Ingest", pipeline="Ingest/Payments", out=tmp_path)
    assert [f.status for f in run.files] == ["COMPLETED"]


def test_functions_and_state_machines_run_as_their_own_roles(assembly, template, tmp_path):
    # moto's backends are read directly: the runner's clients sign as its operator, which is not the point here.
    from moto.awslambda.models import lambda_backends
    from moto.iam.models import iam_backends

    with LocalPipeline(assembly, out=tmp_path, pipeline="Payments") as local:
        lam, iam = lambda_backends[ACCOUNT][REGION], iam_backends[ACCOUNT]["aws"]
        for fn in local.pipeline.functions.values():
            assert lam.get_function(fn.name).role == fn.role_arn
            assert iam.get_role_by_arn(fn.role_arn).arn == fn.role_arn
            # The data path's functions are limited; the sweep runs alone on its schedule.
            assert fn.reserved_concurrency == (None if fn.name == local.pipeline.sweep_function else 3)
        machine = local.clients["stepfunctions"].describe_state_machine(
            stateMachineArn=local.pipeline.state_machine_arn
        )
        (role_id,) = [
            lid for lid in template.of_type("AWS::IAM::Role") if lid.startswith("PaymentsWorkflowStateMachineR")
        ]
        assert machine["roleArn"] == template.get_att(role_id, "Arn")
        trust = iam.get_role_by_arn(machine["roleArn"]).assume_role_policy_document
        assert "states.amazonaws.com" in json.dumps(trust)
    with LocalPipeline(assembly, out=tmp_path, pipeline="Cards") as local:
        assert {fn.reserved_concurrency for fn in local.pipeline.functions.values()} == {None}


def test_the_reconciler_rule_is_the_chosen_pipelines(assembly, tmp_path):
    with LocalPipeline(assembly, out=tmp_path, pipeline="Payments") as local:
        (rule,) = [r for r in local.pipeline.other_rules if "aws.states" in r.pattern.get("source", [])]
        assert rule.pattern["detail"]["stateMachineArn"] == [
            local.pipeline.state_machine_arn,
            local.pipeline.large_file_state_machine_arn,
        ]
        assert rule.capture_queue_url != local.pipeline.rule.capture_queue_url
