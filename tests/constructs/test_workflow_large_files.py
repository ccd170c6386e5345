"""The default data path: EXPRESS for most files, a STANDARD twin for large ones, as synthesized."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from etl_constructs import (
    ConfigurationError,
    DataSettings,
    ValidateTransformWorkflow,
)
from etl_constructs.definition import EXECUTION_EXISTS

from .test_workflow import _props


@pytest.fixture(scope="module")
def built(synthesize):
    return synthesize(lambda stack: ValidateTransformWorkflow(stack, "Workflow", _props(stack)))


@pytest.fixture(scope="module")
def template(built):
    return built[0]


@pytest.fixture(scope="module")
def workflow(built):
    return built[1]


def _machine(template, prefix: str) -> dict:
    (machine,) = [
        m
        for k, m in template.find_resources("AWS::StepFunctions::StateMachine").items()
        if k.startswith(f"Workflow{prefix}")
    ]
    return machine


def _definition(machine: dict) -> dict:
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts))


def test_the_rule_starts_an_express_machine_and_large_files_go_to_a_standard_twin(template):
    entry, twin = _machine(template, "StateMachine"), _machine(template, "LargeFileStateMachine")
    assert entry["Properties"]["StateMachineType"] == "EXPRESS"
    assert twin["Properties"]["StateMachineType"] == "STANDARD"
    assert _definition(entry)["TimeoutSeconds"] == 300
    assert _definition(twin)["TimeoutSeconds"] == 3600


def test_the_first_state_routes_by_the_events_object_size(template):
    definition = _definition(_machine(template, "StateMachine"))
    assert definition["StartAt"] == "Large file?"
    route = definition["States"]["Large file?"]
    (choice,) = route["Choices"]
    assert {"Variable": "$.size", "NumericGreaterThan": 256 * 1024 * 1024} in choice["And"]
    assert choice["Next"] == "Hand over to STANDARD"
    assert route["Default"] == "New attempt requested?"
    hand_over = definition["States"]["Hand over to STANDARD"]
    assert hand_over["Resource"].endswith(":states:startExecution")  # not .sync: the EXPRESS run ends at once
    assert "large-{}" in hand_over["Parameters"]["Name.$"] and "States.Hash" in hand_over["Parameters"]["Name.$"]
    assert hand_over["Parameters"]["Input.$"] == "$"
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in hand_over["Catch"]}
    assert catches[tuple(EXECUTION_EXISTS)] == "Handed over"
    catches = {c["ErrorEquals"][0]: c["Next"] for c in hand_over["Catch"]}
    assert catches["States.ALL"] == "Leave the large file for the sweep"


def test_the_twin_has_no_route_and_runs_every_file_it_is_given(template):
    definition = _definition(_machine(template, "LargeFileStateMachine"))
    assert definition["StartAt"] == "New attempt requested?" and "Large file?" not in definition["States"]


def test_functions_keep_their_full_timeouts_and_express_steps_wait_two_minutes(template):
    timeouts = sorted(
        f["Properties"]["Timeout"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "sweep" not in f["Properties"]["Handler"]
    )
    assert timeouts == [300, 900]
    entry, twin = (
        _definition(_machine(template, "StateMachine")),
        _definition(_machine(template, "LargeFileStateMachine")),
    )
    for name in ("Validate", "Transform"):
        assert entry["States"][name]["TimeoutSeconds"] == 120
        assert "TimeoutSeconds" not in twin["States"][name]
    # Each machine's throttling budget fits its own timeout: 2 retries on EXPRESS, 20 on the twin.
    throttle = {"Lambda.TooManyRequestsException"}
    for states, expected in ((entry["States"], 2), (twin["States"], 20)):
        (retry,) = [r for r in states["Validate"]["Retry"] if set(r["ErrorEquals"]) == throttle]
        assert retry["MaxAttempts"] == expected


def test_both_machines_failures_reach_the_reconciler_and_the_sweep_restarts_on_the_twin(template, workflow):
    twin = workflow.large_file_state_machine
    rules = template.find_resources("AWS::Events::Rule")
    (unsettled,) = [r for k, r in rules.items() if k.startswith("WorkflowExecutionUnsettled")]
    machines = unsettled["Properties"]["EventPattern"]["detail"]["stateMachineArn"]
    assert len(machines) == 2
    (sweep,) = [
        f for f in template.find_resources("AWS::Lambda::Function").values() if "sweep" in f["Properties"]["Handler"]
    ]
    env = sweep["Properties"]["Environment"]["Variables"]
    assert env["STATE_MACHINE_ARN"] == {"Ref": cdk.Stack.of(twin).get_logical_id(twin.node.default_child)}
    assert int(env["UNSETTLED_AFTER_SECONDS"]) == 3600 + 600  # the twin's timeout: its items run longest
    assert workflow.restart_machine is twin and workflow.data_machines == (workflow.state_machine, twin)


def test_the_entry_may_start_only_the_twin(template, workflow):
    policies = template.find_resources("AWS::IAM::Policy")
    text = json.dumps([p for k, p in policies.items() if k.startswith("WorkflowStateMachineRole")])
    assert "states:StartExecution" in text
    twin_id = cdk.Stack.of(workflow).get_logical_id(workflow.large_file_state_machine.node.default_child)
    assert twin_id in text


def test_state_machine_props_reach_both_machines_each_with_a_name_of_its_own(synthesize):
    template, _ = synthesize(
        lambda stack: ValidateTransformWorkflow(
            stack, "Workflow", _props(stack, state_machine_props={"state_machine_name": "payments", "comment": "ETL"})
        )
    )
    entry, twin = _machine(template, "StateMachine"), _machine(template, "LargeFileStateMachine")
    assert entry["Properties"]["StateMachineName"] == "payments"
    assert twin["Properties"]["StateMachineName"] == "payments-large-files"
    assert _definition(entry)["Comment"] == _definition(twin)["Comment"] == "ETL"


def _level(machine: dict) -> str:
    return machine["Properties"]["LoggingConfiguration"]["Level"]


def test_express_logs_failures_and_the_twin_every_state_by_default(template):
    assert _level(_machine(template, "StateMachine")) == "ERROR"
    assert _level(_machine(template, "LargeFileStateMachine")) == "ALL"


def test_log_level_reaches_both_machines(synthesize):
    template, _ = synthesize(
        lambda stack: ValidateTransformWorkflow(stack, "Workflow", _props(stack, log_level=sfn.LogLevel.ALL))
    )
    assert _level(_machine(template, "StateMachine")) == _level(_machine(template, "LargeFileStateMachine")) == "ALL"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ("EXPRESS", True)),
        ({"state_machine_type": sfn.StateMachineType.STANDARD}, ("STANDARD", False)),
        ({"large_file_mb": None}, ("EXPRESS", False)),
        ({"data": DataSettings(control_totals=True)}, ("STANDARD", False)),
    ],
    ids=["default", "standard", "express-alone", "control-totals"],
)
def test_the_type_and_the_twin_follow_the_props(overrides, expected):
    stack = cdk.Stack(cdk.App(), "S")
    props = _props(stack, **overrides)
    assert (props.state_machine_type.name, props.routes_large_files) == expected


def test_express_alone_derives_its_timeouts_as_before():
    stack = cdk.Stack(cdk.App(), "S")
    props = _props(stack, large_file_mb=None)
    assert props.execution_timeout.to_seconds() == 300 and props.validate_timeout.to_seconds() == 120


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"large_file_mb": -1}, "large_file_mb must be 0 or more"),
        (
            {"state_machine_type": sfn.StateMachineType.STANDARD, "large_file_mb": 512},
            "large_file_mb=512 routes files by size on an EXPRESS data path only",
        ),
        ({"data": DataSettings(control_totals=True), "large_file_mb": 0}, "this one is STANDARD"),
        (
            {
                "state_machine_type": sfn.StateMachineType.EXPRESS,
                "data": DataSettings(control_totals=True, control_wait=Duration.minutes(10)),
            },
            "do not fit an EXPRESS execution's 5 minutes",
        ),
    ],
)
def test_bad_routing_is_refused_at_synth(overrides, message):
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ConfigurationError, match=message):
        _props(stack, **overrides)


def test_an_express_step_that_times_out_leaves_the_file_to_the_sweep(template):
    """Its function may still run (its own timeout is longer): no failure path may race it."""
    states = _definition(_machine(template, "StateMachine"))["States"]
    for name in ("Validate", "Transform"):
        errors = [c["ErrorEquals"] for c in states[name]["Catch"]]
        assert errors.index(["States.Timeout"]) < errors.index(["States.ALL"])
        (catch,) = [c for c in states[name]["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
        assert states[catch["Next"]] == {
            "Type": "Fail",
            "Error": "StepTimedOut",
            "Cause": "The function may still be running; the sweep settles the file once it cannot be",
        }
    twin = _definition(_machine(template, "LargeFileStateMachine"))["States"]
    assert "Step timed out" not in twin  # the twin waits for its functions as long as they run


def test_a_duplicate_name_is_never_retried(template):
    """Retriers are tried before catchers, and States.TaskFailed would match the duplicate name too."""
    hand_over = _definition(_machine(template, "StateMachine"))["States"]["Hand over to STANDARD"]
    first = hand_over["Retry"][0]
    assert first["ErrorEquals"] == EXECUTION_EXISTS and first["MaxAttempts"] == 0


def test_a_name_too_long_for_the_twin_is_refused():
    with pytest.raises(ConfigurationError, match="over Step Functions' 80 characters"):
        _props(cdk.Stack(cdk.App(), "S"), state_machine_props={"state_machine_name": "n" * 69})
    _props(cdk.Stack(cdk.App(), "S"), state_machine_props={"state_machine_name": "n" * 68})


def test_a_name_step_functions_refuses_is_refused_naming_it():
    with pytest.raises(ConfigurationError, match="'my machine!': Step Functions takes letters, digits"):
        _props(cdk.Stack(cdk.App(), "S"), state_machine_props={"state_machine_name": "my machine!"})


def test_an_execution_timeout_shorter_than_a_function_names_the_function():
    with pytest.raises(
        ConfigurationError, match="it is 600 s, transform_timeout 900 s; give a longer execution_timeout"
    ):
        _props(cdk.Stack(cdk.App(), "S"), execution_timeout=Duration.minutes(10))


def _sweep_environment(template) -> dict:
    (env,) = [
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "UNSETTLED_AFTER_SECONDS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    return env


def test_the_sweep_settles_the_express_machines_items_once_its_functions_cannot_run(template):
    """The EXPRESS execution ends within 5 minutes, its functions within their 15: settled after 25, not 70."""
    env = _sweep_environment(template)
    assert env["UNSETTLED_AFTER_SECONDS"] == str(3600 + 600)
    assert env["UNSETTLED_AFTER_EXPRESS_SECONDS"] == str(900 + 600)
    assert env["EXPRESS_MACHINE_NAME"] == {"Fn::GetAtt": [next(iter(_entry_ids(template))), "Name"]}


def _entry_ids(template) -> list[str]:
    return [
        k
        for k, m in template.find_resources("AWS::StepFunctions::StateMachine").items()
        if k.startswith("WorkflowStateMachine")
    ]


def test_a_standard_data_path_has_one_cutoff(synthesize):
    template, _ = synthesize(
        lambda stack: ValidateTransformWorkflow(
            stack, "Workflow", _props(stack, state_machine_type=sfn.StateMachineType.STANDARD)
        )
    )
    assert "EXPRESS_MACHINE_NAME" not in _sweep_environment(template)
