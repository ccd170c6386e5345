"""Picking what to run: a template file or a cloud assembly, one of its stacks, one pipeline of the stack.

One app is synthesized for the module, with a stack for each case:
`Alpha` (one EtlPipeline), `Beta` (`Cards` and `Payments`), `Nested` (two pipelines both called
`Pipeline`, under `East` and `West`), `Bare` (RawLanding and the workflow wired without the
facade, twice), `Imported` (a pipeline on an imported raw bucket, one on an imported processed
bucket, and a `Good` one), and `Prod/Gamma` (a stack in a stage: a nested assembly).
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl_constructs import (
    EtlPipeline,
    EtlPipelineProps,
    ProcessingLedger,
    RawLanding,
    ValidateTransformWorkflow,
    ValidateTransformWorkflowProps,
)
from etl_constructs.local import LocalPipeline
from etl_constructs.local.assembly import find_pipelines, read_stacks, resolve_template
from etl_constructs.local.template import SelectionError, Template, TemplateError


def _bare(stack: cdk.Stack, suffix: str) -> None:
    landing = RawLanding(stack, f"Landing{suffix}")
    workflow = ValidateTransformWorkflow(
        stack,
        f"Workflow{suffix}",
        ValidateTransformWorkflowProps(
            raw_bucket=landing.bucket,
            quarantine_bucket=landing.quarantine_bucket,
            ledger=ProcessingLedger(stack, f"Ledger{suffix}"),
        ),
    )
    landing.connect(workflow.state_machine)


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("selection") / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    EtlPipeline(cdk.Stack(app, "Alpha"), "Pipeline")
    beta = cdk.Stack(app, "Beta")
    EtlPipeline(beta, "Cards")
    EtlPipeline(beta, "Payments")
    nested = cdk.Stack(app, "Nested")
    EtlPipeline(Construct(nested, "East"), "Pipeline")
    EtlPipeline(Construct(nested, "West"), "Pipeline")
    bare = cdk.Stack(app, "Bare")
    _bare(bare, "A")
    _bare(bare, "B")
    imported = cdk.Stack(app, "Imported")
    outside = s3.Bucket.from_bucket_name(imported, "Outside", "my-existing-bucket")
    EtlPipeline(imported, "RawImported", EtlPipelineProps(existing_raw_bucket=outside))
    EtlPipeline(imported, "OutImported", EtlPipelineProps(existing_processed_bucket=outside))
    EtlPipeline(imported, "Good")
    EtlPipeline(cdk.Stack(cdk.Stage(app, "Prod"), "Gamma"), "Pipeline")
    app.synth()
    return outdir


def _open(assembly: Path, out: Path, **selection: str) -> None:
    """Open (build) and close a LocalPipeline: enough for the selection to be made or refused."""
    with LocalPipeline(assembly, out=out, **selection):
        pass


def _template(assembly: Path, stack: str) -> Template:
    return Template.load(resolve_template(assembly, stack))


# --- stacks -----------------------------------------------------------------------------------------


def test_a_folder_with_one_stack_gives_its_template(default_template_path):
    assert resolve_template(default_template_path.parent) == default_template_path


def test_the_manifest_stands_for_its_folder(default_template_path):
    assert resolve_template(default_template_path.parent / "manifest.json") == default_template_path


def test_a_template_file_is_taken_as_it_is(default_template_path):
    assert resolve_template(default_template_path) == default_template_path
    assert resolve_template(default_template_path, stack="EtlConstructsLocal") == default_template_path


def test_a_folder_with_several_stacks_lists_them_all(assembly):
    with pytest.raises(SelectionError) as raised:
        resolve_template(assembly)
    gamma = next(s for s in read_stacks(assembly) if s.display_name == "Prod/Gamma")
    expected = {"Alpha", "Beta", "Nested", "Bare", "Imported", f"Prod/Gamma ({gamma.artifact_id})"}
    assert sorted(raised.value.choices) == sorted(expected)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"the cloud assembly {assembly} holds 6 stacks; pick one with --stack:"
    assert lines[1:] == [f"  {choice}" for choice in raised.value.choices]


def test_a_stack_is_picked_by_artifact_id_or_by_display_name(assembly):
    assert resolve_template(assembly, "Beta") == assembly / "Beta.template.json"
    gamma = resolve_template(assembly, "Prod/Gamma")
    assert gamma.parent == assembly / "assembly-Prod"
    assert resolve_template(assembly, gamma.name.removesuffix(".template.json")) == gamma


def test_an_unknown_stack_lists_the_choices(assembly):
    with pytest.raises(SelectionError, match="no stack 'Delta' in the cloud assembly") as raised:
        resolve_template(assembly, "Delta")
    assert "Beta" in raised.value.choices
    assert "  Alpha" in str(raised.value).splitlines()


def test_a_template_file_that_is_not_the_stack_named_is_refused(assembly):
    with pytest.raises(SelectionError, match="is not the stack 'Alpha'") as raised:
        resolve_template(assembly / "Beta.template.json", "Alpha")
    assert raised.value.choices == ["Beta"]


def test_a_template_file_of_a_stage_answers_to_its_display_name(assembly):
    gamma = resolve_template(assembly, "Prod/Gamma")
    assert resolve_template(gamma, "Prod/Gamma") == gamma


def test_a_path_that_does_not_exist_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="no template or cloud assembly at") as raised:
        resolve_template(tmp_path / "cdk.out")
    assert not isinstance(raised.value, SelectionError)


def test_a_folder_that_is_no_cloud_assembly_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="not a cloud assembly"):
        resolve_template(tmp_path)


# --- pipelines --------------------------------------------------------------------------------------


def test_a_stack_with_two_pipelines_lists_both(assembly, tmp_path):
    with pytest.raises(SelectionError) as raised:
        _open(assembly, tmp_path, stack="Beta")
    assert str(raised.value).splitlines() == [
        "the stack 'Beta' holds 2 pipelines; pick one with --pipeline:",
        "  Beta/Cards (Cards)",
        "  Beta/Payments (Payments)",
    ]
    assert raised.value.choices == ["Beta/Cards (Cards)", "Beta/Payments (Payments)"]


@pytest.mark.parametrize("name", ["Payments", "Beta/Payments", "/Beta/Payments"])
def test_a_pipeline_is_picked_by_id_or_by_path_with_its_own_resources(assembly, tmp_path, name):
    template = _template(assembly, "Beta")
    with LocalPipeline(assembly, out=tmp_path, stack="Beta", pipeline=name) as local:
        chosen = local.pipeline
    assert chosen.path == "Beta/Payments"
    own = {template.names[lid] for lid in template.resources if lid.startswith("Payments")}
    assert {chosen.raw_bucket, chosen.processed_bucket, chosen.quarantine_bucket, chosen.table} <= own
    assert chosen.functions and set(chosen.functions) <= own
    assert chosen.state_machine_arn.rsplit(":", 1)[-1] in own


def test_each_pipeline_takes_its_names_from_its_own_functions(assembly, tmp_path):
    picked = {}
    for name in ("Cards", "Payments"):
        with LocalPipeline(assembly, out=tmp_path, stack="Beta", pipeline=name) as local:
            picked[name] = local.pipeline
    cards, payments = picked["Cards"], picked["Payments"]
    for field in ("raw_bucket", "processed_bucket", "quarantine_bucket", "table", "state_machine_arn"):
        assert getattr(cards, field) != getattr(payments, field), field
    assert not set(cards.functions) & set(payments.functions)
    for fn in payments.functions.values():
        assert fn.environment["LEDGER_TABLE"] == payments.table


def test_an_unknown_pipeline_lists_the_choices(assembly, tmp_path):
    with pytest.raises(SelectionError) as raised:
        _open(assembly, tmp_path, stack="Beta", pipeline="Cash")
    assert str(raised.value).splitlines()[0] == "no pipeline 'Cash' in the stack 'Beta'; the pipelines are:"
    assert raised.value.choices == ["Beta/Cards (Cards)", "Beta/Payments (Payments)"]


def test_an_id_two_pipelines_share_is_ambiguous_and_a_longer_path_picks_one(assembly, tmp_path):
    with pytest.raises(SelectionError, match="'Pipeline' names 2 pipelines") as raised:
        _open(assembly, tmp_path, stack="Nested", pipeline="Pipeline")
    assert raised.value.choices == ["Nested/East/Pipeline (Pipeline)", "Nested/West/Pipeline (Pipeline)"]
    with LocalPipeline(assembly, out=tmp_path, stack="Nested", pipeline="West/Pipeline") as local:
        assert local.pipeline.path == "Nested/West/Pipeline"


def test_parts_wired_without_the_facade_are_named_by_their_rule(assembly, tmp_path):
    paths = [p.path for p in find_pipelines(_template(assembly, "Bare"))]
    assert paths == ["Bare/LandingA/ObjectCreated", "Bare/LandingB/ObjectCreated"]
    with LocalPipeline(assembly, out=tmp_path, stack="Bare", pipeline="LandingB/ObjectCreated") as local:
        assert local.pipeline.path == "Bare/LandingB/ObjectCreated"
        assert all("WorkflowB" in name for name in local.pipeline.functions)


def test_a_single_pipeline_needs_no_name_and_a_stage_stack_runs(assembly, tmp_path):
    with LocalPipeline(assembly, out=tmp_path, stack="Prod/Gamma") as local:
        assert local.pipeline.path == "Prod/Gamma/Pipeline"


def test_a_template_without_construct_paths_names_pipelines_by_their_rule(assembly, tmp_path):
    lone = tmp_path / "lone" / "Beta.template.json"
    lone.parent.mkdir()
    lone.write_text((assembly / "Beta.template.json").read_text())
    paths = [p.path for p in find_pipelines(Template.load(lone))]
    body = json.loads(lone.read_text())["Resources"]
    assert len(paths) == 2
    assert all(body[p]["Type"] == "AWS::Events::Rule" for p in paths)


# --- imported parts ---------------------------------------------------------------------------------


def test_an_imported_raw_bucket_is_named_in_a_clear_error(assembly, tmp_path):
    with pytest.raises(TemplateError) as raised:
        _open(assembly, tmp_path, stack="Imported", pipeline="RawImported")
    assert not isinstance(raised.value, SelectionError)
    assert str(raised.value) == (
        "the raw bucket 'my-existing-bucket' of the pipeline Imported/RawImported is imported "
        "(s3.Bucket.from_bucket_name or from_bucket_arn), not defined in this template; run-local creates "
        "only what the template defines — define it in the stack, or run against a stack that does"
    )


def test_an_imported_processed_bucket_is_named_in_a_clear_error(assembly, tmp_path):
    with pytest.raises(TemplateError, match="the processed bucket 'my-existing-bucket' of the pipeline"):
        _open(assembly, tmp_path, stack="Imported", pipeline="OutImported")


def test_a_pipeline_beside_one_on_imported_buckets_runs(assembly, tmp_path):
    source = tmp_path / "a.csv"
    source.write_bytes(b"transaction_id,amount,date,account_id\nt1,1.00,2024-01-01,a\n")
    with LocalPipeline(assembly, out=tmp_path / "out", stack="Imported", pipeline="Good") as local:
        (report,) = local.run([source]).files
    assert report.status == "COMPLETED", report.errors
