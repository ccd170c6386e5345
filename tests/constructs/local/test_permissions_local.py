"""run-local authorizes every call as AWS would: each function as its role, the state machine as its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etl_constructs.local import LocalPipeline
from etl_constructs.local.key_check import KeyPolicyError

REPO = Path(__file__).resolve().parents[3]
GOOD = REPO / "examples" / "data" / "good-transactions.csv"


def without(action: str, role: str) -> Callable[[dict[str, Any]], None]:
    """An edit removing `action` from every statement of the policies of the role whose id holds `role`."""

    def edit(body: dict[str, Any]) -> None:
        found = False
        for resource in body["Resources"].values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            if not any(role in ref.get("Ref", "") for ref in resource["Properties"]["Roles"]):
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if action in actions:
                    found = True
                    statement["Action"] = [a for a in actions if a != action] or ["none:None"]
        assert found, f"no policy of {role} grants {action}"

    return edit


def run(template: Path, out: Path) -> tuple[Any, LocalPipeline]:
    with LocalPipeline(template, out=out) as local:
        (report,) = local.run([GOOD]).files
    return report, local


def test_the_default_pipeline_completes_with_every_call_authorized(default_template_path, tmp_path):
    report, local = run(default_template_path, tmp_path)
    assert report.status == "COMPLETED", report.errors
    assert local.refusals == []


@pytest.mark.parametrize(
    ("action", "role", "status", "resource", "base"),
    [
        # The execution fails before RECEIVED; on STANDARD its status-change event reaches the reconciler at
        # once, which records the version as failed, findable (EXPRESS leaves it to the sweep: test_sweep_local).
        ("dynamodb:PutItem", "StateMachineRole", "VALIDATION_FAILED", ":table/", "standard_template_path"),
        ("lambda:InvokeFunction", "StateMachineRole", "VALIDATION_FAILED", ":function:", "default_template_path"),
        ("s3:GetObjectVersion", "ValidateRole", "VALIDATION_FAILED", "arn:aws:s3:::", "default_template_path"),
        ("s3:PutObject", "TransformRole", "TRANSFORMATION_FAILED", "arn:aws:s3:::", "default_template_path"),
    ],
)
def test_a_grant_removed_fails_the_step_with_access_denied_naming_action_and_resource(
    request, variant, tmp_path, action, role, status, resource, base
):
    template = variant(request.getfixturevalue(base), tmp_path, without(action, role))
    report, local = run(template, tmp_path / "out")
    assert report.status == status
    first = report.errors[0]["message"]
    assert first.startswith("AccessDenied: User: arn:aws:sts::123456789012:assumed-role/")
    assert f"is not authorized to perform: {action} on resource: " in first
    assert resource in first.split(" on resource: ")[1]
    assert {d.permission.action for d in local.refusals} == {action}


def test_a_rule_whose_role_may_not_start_the_workflow_starts_nothing(default_template_path, variant, tmp_path):
    template = variant(default_template_path, tmp_path, without("states:StartExecution", "StateMachineEventsRole"))
    report, _ = run(template, tmp_path / "out")
    assert report.status == "NOT_STARTED"
    assert report.file_id is None
    message = report.errors[0]["message"]
    assert message.startswith("not started: the rule could not start the workflow: AccessDeniedException")
    assert "states:StartExecution on resource: arn:aws:states:" in message


@pytest.fixture(scope="module")
def customer_key_template(tmp_path_factory) -> Path:
    """An EtlPipeline whose buckets are encrypted with a customer key (SSE-KMS), synthesized to disk."""
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms

    from etl_constructs import EtlPipeline, EtlPipelineProps

    outdir = tmp_path_factory.mktemp("customer-key")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Keyed")
    EtlPipeline(stack, "Pipeline", EtlPipelineProps(encryption_key=kms.Key(stack, "Key", enable_key_rotation=True)))
    app.synth()
    return outdir / "Keyed.template.json"


def test_a_pipeline_on_a_customer_key_completes_with_its_kms_grants(customer_key_template, tmp_path):
    report, local = run(customer_key_template, tmp_path)
    assert report.status == "COMPLETED", report.errors
    assert local.refusals == []


def test_a_kms_grant_removed_is_refused_before_any_file_runs(customer_key_template, variant, tmp_path):
    template = variant(customer_key_template, tmp_path, without("kms:Decrypt", "ValidateRole"))
    with pytest.raises(KeyPolicyError, match=r"role/local-PipelineWorkflowValidateRole\w+ needs kms:Decrypt"):
        run(template, tmp_path / "out")
    assert not (tmp_path / "out").exists()
