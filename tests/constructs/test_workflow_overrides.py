"""function_props and state_machine_props: what the pipeline does not own takes effect; what it owns is refused."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_lambda as lambda_

from etl_constructs import ConfigurationError, EtlPipeline, EtlPipelineProps


@pytest.fixture(scope="module")
def template() -> assertions.Template:
    stack = cdk.Stack(cdk.App(), "Overrides")
    EtlPipeline(
        stack,
        "Pipeline",
        EtlPipelineProps(
            function_props={"architecture": lambda_.Architecture.X86_64, "description": "payments"},
            state_machine_props={"state_machine_name": "payments-etl", "comment": "ours"},
        ),
    )
    return assertions.Template.from_stack(stack)


def test_function_props_reach_the_validate_and_transform_functions_not_the_sweep(template):
    functions = template.find_resources("AWS::Lambda::Function").values()
    data = [f["Properties"] for f in functions if "sweep" not in f["Properties"]["Handler"]]
    (sweep,) = [f["Properties"] for f in functions if "sweep" in f["Properties"]["Handler"]]
    assert len(data) == 2
    for props in data:
        assert props["Architectures"] == ["x86_64"] and props["Description"] == "payments"
        assert props["TracingConfig"] == {"Mode": "Active"}  # the defaults not overridden stay
    assert sweep["Architectures"] == ["arm64"]


def test_state_machine_props_reach_the_data_path(template):
    machines = template.find_resources("AWS::StepFunctions::StateMachine").values()
    (main,) = [m["Properties"] for m in machines if m["Properties"].get("StateMachineName") == "payments-etl"]
    assert "ours" in str(main["DefinitionString"])
    assert main["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"function_props": {"handler": "x.y"}}, r"function_props\['handler'\] is set by the pipeline, it cannot"),
        ({"function_props": {"memory_size": 512}}, r"use validate_memory_mb / transform_memory_mb"),
        ({"function_props": {"memroy_size": 512}}, r"function_props\['memroy_size'\]: Function has no such setting"),
        ({"state_machine_props": {"timeout": cdk.Duration.minutes(1)}}, "use execution_timeout"),
        ({"state_machine_props": {"definition_body": None}}, "cannot be overridden"),
    ],
)
def test_what_the_pipeline_owns_is_refused_naming_the_field_to_use(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        EtlPipeline(cdk.Stack(cdk.App(), "Refused"), "Pipeline", EtlPipelineProps(**settings))
