"""cfn-lint on the synthesized templates: nothing but W3005 (CDK's explicit DependsOn)."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from cfnlint.api import lint_file

from etl_constructs import EtlPipeline, EtlPipelineProps

REPO = Path(__file__).resolve().parents[2]

ALLOWED = {"W3005"}


def _lint(template: Path) -> list[str]:
    return [f"{m.rule.id} {m.message}" for m in lint_file(template) if m.rule.id not in ALLOWED]


def test_default_pipeline_template_is_clean(default_template_path):
    assert _lint(default_template_path) == []


def test_destroyable_pipeline_template_is_clean(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Destroyable")
    EtlPipeline(stack, "Pipeline", EtlPipelineProps(removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True))
    app.synth()
    assert _lint(tmp_path / "Destroyable.template.json") == []


def test_example_app_template_is_clean(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    sys.modules.pop("app", None)
    import app as example

    example.build_app(str(tmp_path)).synth()
    assert _lint(tmp_path / "EtlPipelineExample-dev.template.json") == []


def test_lint_reports_a_broken_template(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"Versioned": true}}}}')
    assert _lint(broken), "cfn-lint found nothing in a template with an unknown property"
