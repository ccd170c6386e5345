"""PipelineResources.from_stack finds a deployed pipeline's parts from CloudFormation's answers."""

from __future__ import annotations

import json

import aws_cdk as cdk
import boto3
import pytest
from botocore.stub import Stubber

from etl_constructs import DataSettings, EtlPipeline, EtlPipelineProps
from etl_constructs.local.template import SelectionError
from etl_constructs.ops import PipelineResources


@pytest.fixture(scope="module")
def body() -> dict:
    app = cdk.App()
    stack = cdk.Stack(app, "Payments")
    EtlPipeline(stack, "Cards", EtlPipelineProps(input_prefix="in coming/", data=DataSettings(suffixes=(".csv",))))
    EtlPipeline(stack, "Wires")
    return app.synth().get_stack_by_name("Payments").template


def _physical(body: dict) -> dict[str, str]:
    names = {}
    for logical_id, resource in body["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::StepFunctions::StateMachine":
            names[logical_id] = f"arn:aws:states:eu-west-1:111111111111:stateMachine:{logical_id}"
        else:
            names[logical_id] = f"phys-{logical_id.lower()}"
    return names


def _cloudformation(body: dict) -> tuple[object, Stubber]:
    client = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response(
        "get_template", {"TemplateBody": json.dumps(body)}, {"StackName": "Payments", "TemplateStage": "Original"}
    )
    summaries = [
        {
            "LogicalResourceId": lid,
            "PhysicalResourceId": phys,
            "ResourceType": body["Resources"][lid]["Type"],
            "LastUpdatedTimestamp": "2024-03-01T00:00:00Z",
            "ResourceStatus": "CREATE_COMPLETE",
        }
        for lid, phys in _physical(body).items()
    ]
    stubber.add_response("list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": "Payments"})
    stubber.activate()
    return client, stubber


def test_the_pipeline_named_is_found_with_its_physical_names(body):
    client, stubber = _cloudformation(body)
    found = PipelineResources.from_stack(client, "Payments", "Cards")
    stubber.assert_no_pending_responses()
    assert found.table.startswith("phys-cardsledgertable")
    assert found.state_machine.endswith(":stateMachine:" + found.state_machine.rsplit(":", 1)[1])
    assert "CardsWorkflowLargeFileStateMachine" in found.state_machine  # restarts run on the STANDARD twin
    assert found.raw_bucket.startswith("phys-cardslandingraw")
    assert (found.input_prefix, found.suffixes) == ("in coming/", (".csv",))


def test_a_stack_of_two_pipelines_needs_one_named(body):
    client, _ = _cloudformation(body)
    with pytest.raises(SelectionError, match="holds 2 pipelines"):
        PipelineResources.from_stack(client, "Payments")
