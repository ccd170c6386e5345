"""cdk-nag's AwsSolutions, Serverless and PCI DSS 3.2.1 packs: no unacknowledged finding."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks

from etl_constructs import EtlPipeline, EtlPipelineProps, WorkflowOptions

REPO = Path(__file__).resolve().parents[2]


def _with_packs(app: cdk.App) -> cdk.App:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), PCIDSS321Checks(app))
    return app


def _findings(app: cdk.App, outdir) -> list[str]:
    try:
        app.synth()
    except Exception:
        report = json.loads((outdir / "validation-report.json").read_text())
        return sorted(
            f"{v['ruleName']} {c['constructPath']}"
            for plugin in report["pluginReports"]
            for v in plugin["violations"]
            for c in v["violatingConstructs"]
        )
    return []


def test_default_pipeline_has_no_unacknowledged_findings(tmp_path):
    app = _with_packs(cdk.App(outdir=str(tmp_path)))
    EtlPipeline(cdk.Stack(app, "NagStack"), "Pipeline")
    assert _findings(app, tmp_path) == []


def test_example_app_has_no_unacknowledged_findings(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    sys.modules.pop("app", None)
    import app as example

    assert _findings(_with_packs(example.build_app(str(tmp_path))), tmp_path) == []


@pytest.mark.parametrize("pack", ["AwsSolutions-SQS3", "AwsSolutions-SQS4"])
def test_the_packs_do_report_a_finding(tmp_path, pack):
    # The control: an unprotected queue must be reported, or the two tests above prove nothing.
    app = _with_packs(cdk.App(outdir=str(tmp_path)))
    sqs.Queue(cdk.Stack(app, "Bare"), "Queue")
    assert any(f.startswith(pack) for f in _findings(app, tmp_path))


def test_logging_below_error_is_left_for_the_app_to_acknowledge(tmp_path):
    """ERROR, the EXPRESS default, is acknowledged with its reason; FATAL logs too little for that reason to hold."""
    app = _with_packs(cdk.App(outdir=str(tmp_path)))
    EtlPipeline(
        cdk.Stack(app, "Quiet"), "Pipeline", EtlPipelineProps(workflow=WorkflowOptions(log_level=sfn.LogLevel.FATAL))
    )
    assert [f for f in _findings(app, tmp_path) if "SF1" in f] == [
        "AwsSolutions-SF1 Quiet/Pipeline/Workflow/LargeFileStateMachine/Resource",
        "AwsSolutions-SF1 Quiet/Pipeline/Workflow/StateMachine/Resource",
    ]
